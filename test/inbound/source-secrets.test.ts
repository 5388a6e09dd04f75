// POST /v1/sources/{id}/secrets: a new signing secret verifies at once, the previous ones
// keep verifying until their overlap ends, and nobody else's source can be rotated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { newId } from '../../src/core/ids.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const T0 = new Date('2026-03-01T12:00:00.000Z');
const OLD_SECRET = 'whsec_rotation_old_0123456789abcdef';
const NEW_SECRET = 'whsec_rotation_new_0123456789abcdef';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let merchant: { id: string; apiKey: string };
// The deps clock: tests move it to see a secret expire.
let now = T0;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: () => now });
  app = testApp(deps);
  merchant = await aMerchant(deps);
});
afterAll(async () => db.drop());

interface RotatedView {
  id: string;
  provider: string;
  inboundUrl: string;
  secrets: { createdAt: string; expiresAt: string | null }[];
}

async function stripeSource(secret = OLD_SECRET): Promise<string> {
  const res = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret }, merchant.apiKey));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

function rotate(sourceId: string, body: unknown, apiKey = merchant.apiKey) {
  return app.request(`/v1/sources/${sourceId}/secrets`, jsonRequest('POST', body, apiKey));
}

/** A Stripe-signed POST /inbound/{id} of a new event, signed with `secret` at the clock's now. */
async function postSignedWith(sourceId: string, secret: string): Promise<Response> {
  const body = JSON.stringify({ id: newId('evt'), object: 'event', type: 'customer.created', data: { object: {} } });
  return app.request(`/inbound/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, secret, now) },
    body,
  });
}

async function problemOf(res: Response): Promise<{ code: string; errors?: { path: (string | number)[] }[] }> {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as { code: string; errors?: { path: (string | number)[] }[] };
}

describe('POST /v1/sources/{id}/secrets', () => {
  it('lets the new and the old secret verify during the overlap, then only the new one', async () => {
    now = T0;
    const id = await stripeSource();
    expect((await postSignedWith(id, OLD_SECRET)).status).toBe(200);

    const res = await rotate(id, { secret: NEW_SECRET, previousExpiresInSeconds: 600 });

    expect(res.status).toBe(200);
    const view = (await res.json()) as RotatedView;
    expect(view).toMatchObject({ id, provider: 'stripe', inboundUrl: `/inbound/${id}` });
    expect(view.secrets).toEqual([
      { createdAt: T0.toISOString(), expiresAt: null },
      { createdAt: expect.any(String), expiresAt: new Date(T0.getTime() + 600_000).toISOString() },
    ]);
    expect(JSON.stringify(view)).not.toContain('whsec_');

    now = new Date(T0.getTime() + 599_000);
    expect((await postSignedWith(id, NEW_SECRET)).status).toBe(200);
    expect((await postSignedWith(id, OLD_SECRET)).status).toBe(200);

    now = new Date(T0.getTime() + 600_000);
    expect((await postSignedWith(id, NEW_SECRET)).status).toBe(200);
    const old = await postSignedWith(id, OLD_SECRET);
    expect(old.status).toBe(401);
    expect(await problemOf(old)).toMatchObject({ code: 'signature_invalid' });
  });

  it('keeps the previous secret for 24 hours by default', async () => {
    now = T0;
    const id = await stripeSource();

    const res = await rotate(id, { secret: NEW_SECRET });

    expect(res.status).toBe(200);
    const { secrets } = (await res.json()) as RotatedView;
    expect(secrets.map((s) => s.expiresAt)).toEqual([null, new Date(T0.getTime() + 86_400_000).toISOString()]);
    now = new Date(T0.getTime() + 86_399_000);
    expect((await postSignedWith(id, OLD_SECRET)).status).toBe(200);
    now = new Date(T0.getTime() + 86_400_000);
    expect((await postSignedWith(id, OLD_SECRET)).status).toBe(401);
    expect((await postSignedWith(id, NEW_SECRET)).status).toBe(200);
  });

  it('retires the previous secret at once with previousExpiresInSeconds 0', async () => {
    now = T0;
    const id = await stripeSource();

    const res = await rotate(id, { secret: NEW_SECRET, previousExpiresInSeconds: 0 });

    expect(res.status).toBe(200);
    expect(((await res.json()) as RotatedView).secrets).toEqual([{ createdAt: T0.toISOString(), expiresAt: null }]);
    expect((await postSignedWith(id, OLD_SECRET)).status).toBe(401);
    expect((await postSignedWith(id, NEW_SECRET)).status).toBe(200);
  });

  it('never lengthens the life of a secret already due to expire sooner', async () => {
    now = T0;
    const id = await stripeSource('whsec_rotation_first_0123456789ab');
    await rotate(id, { secret: 'whsec_rotation_second_0123456789ab', previousExpiresInSeconds: 60 });

    const res = await rotate(id, { secret: 'whsec_rotation_third_0123456789ab', previousExpiresInSeconds: 3600 });

    const { secrets } = (await res.json()) as RotatedView;
    expect(secrets.map((s) => s.expiresAt)).toEqual([
      null,
      new Date(T0.getTime() + 3_600_000).toISOString(),
      new Date(T0.getTime() + 60_000).toISOString(),
    ]);
    now = new Date(T0.getTime() + 60_000);
    expect((await postSignedWith(id, 'whsec_rotation_first_0123456789ab')).status).toBe(401);
    expect((await postSignedWith(id, 'whsec_rotation_second_0123456789ab')).status).toBe(200);
    expect((await postSignedWith(id, 'whsec_rotation_third_0123456789ab')).status).toBe(200);
  });

  it("is 404 not_found for another merchant's source or an unknown one, and changes nothing", async () => {
    now = T0;
    const id = await stripeSource();
    const stranger = await aMerchant(deps, 'Stranger');

    for (const [sourceId, key] of [
      [id, stranger.apiKey],
      ['src_00000000000000000000000000', merchant.apiKey],
    ] as const) {
      const res = await rotate(sourceId, { secret: NEW_SECRET, previousExpiresInSeconds: 0 }, key);
      expect(res.status).toBe(404);
      expect(await problemOf(res)).toMatchObject({ code: 'not_found' });
    }
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.source_secrets where source_id = ${id}`;
    expect(row!.n).toBe(1);
    expect((await postSignedWith(id, OLD_SECRET)).status).toBe(200);
  });

  it('is 401 unauthorized without an API key', async () => {
    const id = await stripeSource();
    const res = await app.request(`/v1/sources/${id}/secrets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret: NEW_SECRET }),
    });
    expect(res.status).toBe(401);
    expect(await problemOf(res)).toMatchObject({ code: 'unauthorized' });
  });

  it('answers 400 invalid_request for a bad body or a secret in the wrong format for the provider, and keeps the old secret alone', async () => {
    now = T0;
    const id = await stripeSource();
    const cases: [unknown, string][] = [
      [{}, 'secret'],
      [{ secret: '' }, 'secret'],
      [{ secret: 42 }, 'secret'],
      [{ secret: NEW_SECRET, previousExpiresInSeconds: -1 }, 'previousExpiresInSeconds'],
      [{ secret: NEW_SECRET, previousExpiresInSeconds: 30 * 86_400 + 1 }, 'previousExpiresInSeconds'],
      [{ secret: NEW_SECRET, previousExpiresInSeconds: 1.5 }, 'previousExpiresInSeconds'],
      [{ secret: NEW_SECRET, previousExpiresInSeconds: '60' }, 'previousExpiresInSeconds'],
      [{ secret: NEW_SECRET, provider: 'adyen' }, ''],
      [{ secret: 'sk_test_not_a_signing_secret' }, 'secret'],
      [{ secret: ` ${NEW_SECRET}` }, 'secret'],
    ];
    for (const [body, path] of cases) {
      const res = await rotate(id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const problem = await problemOf(res);
      expect(problem.code).toBe('invalid_request');
      expect(
        problem.errors!.map((e) => e.path.join('.')),
        JSON.stringify(body),
      ).toContain(path);
    }
    const notJson = await app.request(`/v1/sources/${id}/secrets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${merchant.apiKey}` },
      body: '{"secret":',
    });
    expect(notJson.status).toBe(400);
    expect(await problemOf(notJson)).toMatchObject({ code: 'invalid_request' });

    const [row] = await db.sql<{ n: number; expiring: number }[]>`
      select count(*)::int as n, count(expires_at)::int as expiring from gw.source_secrets where source_id = ${id}`;
    expect(row).toEqual({ n: 1, expiring: 0 });
  });

  it("checks the secret in the format of the source's own provider", async () => {
    now = T0;
    const res = await app.request(
      '/v1/sources',
      jsonRequest(
        'POST',
        { provider: 'adyen', secret: '00112233445566778899AABBCCDDEEFF0123456789ABCDEF0011223344556677' },
        merchant.apiKey,
      ),
    );
    const { id } = (await res.json()) as { id: string };

    const wrong = await rotate(id, { secret: NEW_SECRET });
    expect(wrong.status).toBe(400);
    expect((await problemOf(wrong)).errors![0]!.path).toEqual(['secret']);
    const right = await rotate(id, { secret: 'FFEEDDCCBBAA99887766554433221100FEDCBA98765432107766554433221100' });
    expect(right.status).toBe(200);
  });
});
