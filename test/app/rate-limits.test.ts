// Rate limits (README "Rate limits"): per API key on /v1, and on inbound requests that fail verification.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardBegin } from '../../src/core/db/client.js';
import type { Deps } from '../../src/core/deps.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const START = new Date('2026-03-02T10:00:00.000Z');
const STRIPE_SECRET = 'whsec_rate_limit_test_secret_0123456789';

let db: TestDatabase;
let now = START;
const clock = () => now;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

async function depsWith(env: Record<string, string> = {}): Promise<Deps> {
  return testDeps(db, { clock, env });
}

async function get(app: ReturnType<typeof testApp>, apiKey: string): Promise<Response> {
  return app.request('/v1/merchant', { headers: { authorization: `Bearer ${apiKey}` } });
}

describe('per API key', () => {
  it('answers the 101st request in a second 429 rate_limited, with RateLimit headers and Retry-After', async () => {
    now = START;
    const deps = await depsWith({ SWITCHYARD_API_RATE_PER_SECOND: '100', SWITCHYARD_API_RATE_BURST: '100' });
    const app = testApp(deps);
    const merchant = await aMerchant(deps);
    const answers: Response[] = [];
    for (let i = 0; i < 100; i++) answers.push(await get(app, merchant.apiKey));
    expect(answers.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"api";q=100;w=1');
    expect(answers[0]!.headers.get('ratelimit')).toBe('"api";r=99;t=1');
    expect(answers[99]!.headers.get('ratelimit')).toBe('"api";r=0;t=1');

    const refused = await get(app, merchant.apiKey);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(await refused.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ratelimit')).toBe('"api";r=0;t=1');
    expect(refused.headers.get('ratelimit-policy')).toBe('"api";q=100;w=1');

    // Another key is not held back by this one.
    const other = await aMerchant(deps, 'Other');
    expect((await get(app, other.apiKey)).status).toBe(200);

    // Retry-After later, one request's worth has come back (100 a second: 10 ms each), a second later all of it.
    now = new Date(START.getTime() + 1000);
    const again = await get(app, merchant.apiKey);
    expect(again.status).toBe(200);
    expect(again.headers.get('ratelimit')).toBe('"api";r=99;t=1');
  });

  it('holds across processes: two apps on one database share a key’s limit', async () => {
    now = new Date(START.getTime() + 60_000);
    const env = { SWITCHYARD_API_RATE_PER_SECOND: '100', SWITCHYARD_API_RATE_BURST: '100' };
    const a = testApp(await depsWith(env));
    const b = testApp(await depsWith(env));
    const merchant = await aMerchant(await depsWith(env), 'Shared');
    const statuses = await Promise.all(Array.from({ length: 100 }, (_, i) => get(i % 2 ? a : b, merchant.apiKey).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect((await get(a, merchant.apiKey)).status).toBe(429);
    expect((await get(b, merchant.apiKey)).status).toBe(429);
  });

  it('defaults to 100 a second with bursts of 200, and never counts a request without a key', async () => {
    now = new Date(START.getTime() + 120_000);
    const deps = await depsWith();
    const app = testApp(deps);
    const merchant = await aMerchant(deps, 'Defaults');
    const statuses: number[] = [];
    for (let i = 0; i < 201; i++) statuses.push((await get(app, merchant.apiKey)).status);
    expect(statuses.slice(0, 200)).toEqual(Array(200).fill(200));
    expect(statuses[200]).toBe(429);
    const first = await get(app, 'sk_not_a_key');
    expect(first.headers.get('ratelimit-policy')).toBe('"api";q=200;w=2');
    expect(first.status).toBe(401);
    expect((await app.request('/v1/merchant')).headers.get('ratelimit')).toBeNull();
  });
});

describe('per API key, in the key lookup’s statement', () => {
  it('counts a refused change too: a 404 on DELETE is not rolled back out of the limit', async () => {
    now = new Date(START.getTime() + 180_000);
    const deps = await depsWith({ SWITCHYARD_API_RATE_PER_SECOND: '1', SWITCHYARD_API_RATE_BURST: '5' });
    const app = testApp(deps);
    const merchant = await aMerchant(deps, 'Refused');
    for (let i = 0; i < 5; i++) {
      const res = await app.request(`/v1/api-keys/key_${'0'.repeat(32)}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${merchant.apiKey}` },
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('ratelimit')).toBe(`"api";r=${4 - i};t=${i + 1}`);
    }
    const refused = await get(app, merchant.apiKey);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    // The refusals were audited, each in its own transaction; the 429 itself was stopped before any transaction.
    const [audited] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from gw.audit_log where merchant_id = ${merchant.id} and status = 404`;
    expect(audited!.n).toBe(5);
  });

  it('takes the limit and reads the key in one statement: one round trip per /v1 request for both', async () => {
    now = new Date(START.getTime() + 240_000);
    const statements: string[] = [];
    const counting = guardBegin(
      postgres(db.url, { max: 4, onnotice: () => {}, debug: (_connection, query) => statements.push(query.replace(/\s+/g, ' ')) }),
    );
    try {
      const deps = { ...(await depsWith()), sql: counting };
      const app = testApp(deps);
      const merchant = await aMerchant(deps, 'Counted');
      // The first use writes lastUsedAt (once a minute): not what is measured.
      expect((await get(app, merchant.apiKey)).status).toBe(200);
      const counts: Record<string, number> = {};
      const measure = async (name: string, request: () => Response | Promise<Response>, status: number) => {
        statements.length = 0;
        expect((await request()).status).toBe(status);
        counts[name] = statements.length;
        const limit = statements.filter((q) => q.includes('rate_limit_take'));
        expect(limit, name).toHaveLength(1);
        expect(limit[0]).toContain('gw.api_keys');
        // No statement of its own reads the key (findApiKeyByHash's `where k.key_hash`).
        expect(
          statements.filter((q) => q.includes('where k.key_hash')),
          name,
        ).toHaveLength(0);
      };
      await measure('GET /v1/merchant', () => get(app, merchant.apiKey), 200);
      await measure('POST /v1/api-keys', () => app.request('/v1/api-keys', jsonRequest('POST', { name: 'counted' }, merchant.apiKey)), 201);
      // GET: the take with the key, then the merchant. POST: the take with the key on the pool, then BEGIN, the
      // insert, the audit row and COMMIT in the request's transaction.
      expect(counts).toEqual({ 'GET /v1/merchant': 2, 'POST /v1/api-keys': 5 });
    } finally {
      await counting.end();
    }
  });
});

describe('inbound requests that fail verification', () => {
  let deps: Deps;
  let app: ReturnType<typeof testApp>;
  let sourceId: string;

  beforeAll(async () => {
    now = new Date(START.getTime() + 3_600_000);
    deps = await depsWith({ SWITCHYARD_CLIENT_ADDRESS_HEADER: 'x-forwarded-for' });
    app = testApp(deps);
    const merchant = await aMerchant(deps, 'Flooded');
    const res = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: STRIPE_SECRET }, merchant.apiKey));
    expect(res.status).toBe(201);
    sourceId = ((await res.json()) as { id: string }).id;
  });

  function post(from: string, body: string, signature: string, target = app) {
    return target.request(`/inbound/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature, 'x-forwarded-for': `10.0.0.9, ${from}` },
      body,
    });
  }

  async function genuine(from: string, target = app) {
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 1000, at: now });
    const body = JSON.stringify(event);
    return { id: event.id as string, res: await post(from, body, await signStripe(body, STRIPE_SECRET, now), target) };
  }

  async function forged(from: string, target = app) {
    const body = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { amount: 999_999, at: now }));
    return post(from, body, await signStripe(body, 'whsec_the_attackers_guess_0123456789', now), target);
  }

  it('cuts off a forged-signature flood after 20 while every genuine event from the same source is stored', async () => {
    const attacker = '203.0.113.7';
    const psp = '198.51.100.1';
    const flood = Array.from({ length: 120 }, () => forged(attacker));
    const real = Array.from({ length: 40 }, () => genuine(psp));
    const [floodAnswers, realAnswers] = await Promise.all([Promise.all(flood), Promise.all(real)]);

    const statuses = floodAnswers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(100);
    const refused = floodAnswers.find((r) => r.status === 429)!;
    expect(await refused.json()).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(refused.headers.get('retry-after')).toBe('3'); // 20 a minute: one every 3 s
    expect(refused.headers.get('ratelimit-policy')).toBe('"inbound-unverified";q=20;w=60');
    expect(refused.headers.get('ratelimit')).toBe('"inbound-unverified";r=0;t=3');
    const failed = floodAnswers.find((r) => r.status === 401)!;
    expect(failed.headers.get('ratelimit')).toMatch(/^"inbound-unverified";r=\d+;t=\d+$/);

    expect(realAnswers.map((a) => a.res.status)).toEqual(Array(40).fill(200));
    const stored = await db.sql<{ event_id: string }[]>`select event_id from gw.inbound_events where source_id = ${sourceId}`;
    expect(stored.map((r) => r.event_id).sort()).toEqual(realAnswers.map((a) => a.id).sort());
    // Verified events never touched the limit: no counter for the PSP's address.
    const counters = await db.sql<{ key: string }[]>`select key from gw.rate_limits where key like ${`inbound:${sourceId}:%`}`;
    expect(counters.map((r) => r.key)).toEqual([`inbound:${sourceId}:${attacker}`]);

    // Blocked means unverified: even a correctly signed request from that address is refused until Retry-After…
    expect((await genuine(attacker)).res.status).toBe(429);
    // …while the source keeps taking genuine events from every other address.
    expect((await genuine(psp)).res.status).toBe(200);
  });

  it('holds across processes, and lets the address fail again once Retry-After has passed', async () => {
    const attacker = '203.0.113.8';
    for (let i = 0; i < 20; i++) expect((await forged(attacker)).status).toBe(401);
    expect((await forged(attacker)).status).toBe(429);
    // Another process has not seen this address fail, but the count is in the database.
    // (A process of the same deployment: the same master key.)
    const other = testApp({ ...(await depsWith({ SWITCHYARD_CLIENT_ADDRESS_HEADER: 'x-forwarded-for' })), secretBox: deps.secretBox });
    expect((await forged(attacker, other)).status).toBe(429);
    expect((await genuine('198.51.100.2', other)).res.status).toBe(200);

    now = new Date(now.getTime() + 3000);
    const retried = await forged(attacker);
    expect(retried.status).toBe(401);
    expect(retried.headers.get('ratelimit')).toBe('"inbound-unverified";r=0;t=60');
    expect((await forged(attacker)).status).toBe(429);
  });
});
