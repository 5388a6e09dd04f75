import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { createSql } from '../../src/core/db/client.js';
import type { Deps } from '../../src/core/deps.js';
import { newId } from '../../src/core/ids.js';
import { signStandardWebhooks, signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { processJobsFor } from '../process-jobs.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const NOW = new Date('2025-06-02T10:00:00.000Z');
const STRIPE_SECRET = 'whsec_ingest_test_secret_0123456789';
const SW_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let stripeSourceId: string;
let swSourceId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: fixedClock(NOW) });
  app = testApp(deps);
  const merchant = await aMerchant(deps);
  const stripe = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: STRIPE_SECRET }, merchant.apiKey));
  expect(stripe.status).toBe(201);
  stripeSourceId = ((await stripe.json()) as { id: string }).id;
  const sw = await app.request('/v1/sources', jsonRequest('POST', { provider: 'standard-webhooks', secret: SW_SECRET }, merchant.apiKey));
  expect(sw.status).toBe(201);
  swSourceId = ((await sw.json()) as { id: string }).id;
});
afterAll(async () => db.drop());

/** A new payment_intent.succeeded event as Stripe sends it, serialised once. */
function succeededBody(amount = 2000): { eventId: string; body: string } {
  const event = buildStripeEvent('payment_intent.succeeded', {
    amount,
    at: NOW,
    // Non-ASCII bytes, so a re-encoded body would not compare equal.
    base: { paymentIntent: { object: 'payment_intent', livemode: false, metadata: {}, description: 'Crème brûlée ☕ für 2' } },
  });
  return { eventId: event.id as string, body: JSON.stringify(event) };
}

/** POSTs `body` to a source's inbound URL with the given headers. */
function postInbound(sourceId: string, body: string | Uint8Array, headers: Record<string, string>) {
  return app.request(`/inbound/${sourceId}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/** POSTs `body` signed for the Stripe source at `at` (the deps clock's now by default). */
async function postStripe(body: string, at: Date = deps.clock()) {
  return postInbound(stripeSourceId, body, { 'stripe-signature': await signStripe(body, STRIPE_SECRET, at) });
}

async function inboundCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events`;
  return row!.n;
}

async function jobsFor(inboundEventId: string): Promise<{ key: string | null; ids: string[] }[]> {
  return processJobsFor(db.sql, inboundEventId);
}

async function rowsFor(sourceId: string, eventId: string) {
  return db.sql<{ id: string; raw_body: Uint8Array; status: string; event_type: string | null; headers: Record<string, string> }[]>`
    select i.id, b.raw_body, i.status, i.event_type, b.headers
      from gw.inbound_events i
      join gw.inbound_event_bodies b on b.inbound_event_id = i.id
     where i.source_id = ${sourceId} and i.event_id = ${eventId}`;
}

/** Asserts an RFC 9457 problem response with `status` and `code`, and returns its body. */
async function expectProblem(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'status', 'title', 'type']);
  expect(body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  expect(body).not.toHaveProperty('stack');
  expect(JSON.stringify(body)).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return body;
}

describe('POST /inbound/{sourceId} with a Stripe source', () => {
  const first = succeededBody();

  it('stores a Stripe-signed event byte for byte as received, queues one processing job, and acks 200 duplicate false', async () => {
    const res = await postStripe(first.body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });

    const rows = await rowsFor(stripeSourceId, first.eventId);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.id).toMatch(/^iev_[0-9a-f]{32}$/);
    expect(row.status).toBe('received');
    expect(row.event_type).toBe('payment_intent.succeeded');
    expect(Buffer.from(row.raw_body).equals(Buffer.from(first.body, 'utf8'))).toBe(true);
    expect(row.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);

    const jobs = await jobsFor(row.id);
    expect(jobs).toEqual([{ key: null, ids: [row.id] }]);
  });

  it('acks the same event again as duplicate true without storing or queueing it twice', async () => {
    const res = await postStripe(first.body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: true });
    const rows = await rowsFor(stripeSourceId, first.eventId);
    expect(rows).toHaveLength(1);
    expect(await jobsFor(rows[0]!.id)).toHaveLength(1);
  });

  it('stores 20 concurrent copies of one new event once, queues one job, and reports exactly one as not a duplicate', async () => {
    const { eventId, body } = succeededBody(4200);
    const header = await signStripe(body, STRIPE_SECRET, deps.clock());
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => postInbound(stripeSourceId, body, { 'stripe-signature': header })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { received: boolean; duplicate: boolean }[];
    expect(bodies.every((b) => b.received === true)).toBe(true);
    expect(bodies.filter((b) => b.duplicate === false)).toHaveLength(1);
    expect(bodies.filter((b) => b.duplicate === true)).toHaveLength(19);

    const rows = await rowsFor(stripeSourceId, eventId);
    expect(rows).toHaveLength(1);
    expect(await jobsFor(rows[0]!.id)).toHaveLength(1);
  });

  it('refuses a body changed by one byte after signing with 401 signature_invalid and stores nothing', async () => {
    const { body } = succeededBody();
    const header = await signStripe(body, STRIPE_SECRET, deps.clock());
    const tampered = body.replace('"amount":2000', '"amount":9000');
    expect(tampered).not.toBe(body);
    expect(tampered.length).toBe(body.length);
    const before = await inboundCount();
    await expectProblem(await postInbound(stripeSourceId, tampered, { 'stripe-signature': header }), 401, 'signature_invalid');
    expect(await inboundCount()).toBe(before);
  });

  it('refuses a request without a stripe-signature header with 401 signature_missing and stores nothing', async () => {
    const { body } = succeededBody();
    const before = await inboundCount();
    await expectProblem(await postInbound(stripeSourceId, body, {}), 401, 'signature_missing');
    expect(await inboundCount()).toBe(before);
  });

  it('refuses an event signed 301 s before now with 401 timestamp_out_of_tolerance and stores nothing', async () => {
    const { body } = succeededBody();
    const before = await inboundCount();
    const stale = new Date(deps.clock().getTime() - 301_000);
    await expectProblem(await postStripe(body, stale), 401, 'timestamp_out_of_tolerance');
    expect(await inboundCount()).toBe(before);
  });

  it('accepts an event signed 300 s before now (the edge of the tolerance)', async () => {
    const { body } = succeededBody();
    const res = await postStripe(body, new Date(deps.clock().getTime() - 300_000));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
  });

  it('answers 404 source_not_found for a well-formed source id that does not exist, and for a garbage id', async () => {
    const { body } = succeededBody();
    const header = await signStripe(body, STRIPE_SECRET, deps.clock());
    const before = await inboundCount();
    await expectProblem(await postInbound(newId('src'), body, { 'stripe-signature': header }), 404, 'source_not_found');
    await expectProblem(await postInbound('not-a-source', body, { 'stripe-signature': header }), 404, 'source_not_found');
    await expectProblem(
      await postInbound("src_'; drop table gw.sources; --", body, { 'stripe-signature': header }),
      404,
      'source_not_found',
    );
    expect(await inboundCount()).toBe(before);
  });

  it('refuses a body over SWITCHYARD_INBOUND_MAX_BYTES with 413 payload_too_large and stores nothing', async () => {
    // The same deps (secrets are encrypted under its master key), with the smaller cap.
    const { config } = await testDeps(db, { env: { SWITCHYARD_INBOUND_MAX_BYTES: '1024' } });
    expect(config.SWITCHYARD_INBOUND_MAX_BYTES).toBe(1024);
    const smallApp = testApp({ ...deps, config });
    const event = buildStripeEvent('payment_intent.succeeded', {
      at: NOW,
      base: { paymentIntent: { object: 'payment_intent', livemode: false, metadata: { padding: 'x'.repeat(2000) } } },
    });
    const body = JSON.stringify(event);
    expect(Buffer.byteLength(body)).toBeGreaterThan(1024);
    const header = await signStripe(body, STRIPE_SECRET, NOW);
    const before = await inboundCount();

    // Without a Content-Length: the cap applies to the bytes read.
    const streamed = await smallApp.request(`/inbound/${stripeSourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body,
    });
    await expectProblem(streamed, 413, 'payload_too_large');
    // With a Content-Length that declares it.
    const declared = await smallApp.request(`/inbound/${stripeSourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'stripe-signature': header },
      body,
    });
    await expectProblem(declared, 413, 'payload_too_large');
    expect(await inboundCount()).toBe(before);

    // A body under the cap still goes through that app.
    const small = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { at: NOW }));
    expect(Buffer.byteLength(small)).toBeLessThanOrEqual(1024);
    const ok = await smallApp.request(`/inbound/${stripeSourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(small, STRIPE_SECRET, NOW) },
      body: small,
    });
    expect(ok.status).toBe(200);
  });

  it('answers 400 event_id_missing for a correctly signed body without an id, and stores nothing', async () => {
    const event: Record<string, unknown> = buildStripeEvent('payment_intent.succeeded', { at: NOW });
    delete event.id;
    const body = JSON.stringify(event);
    const before = await inboundCount();
    await expectProblem(await postStripe(body), 400, 'event_id_missing');
    // And a signed body that is not JSON at all.
    await expectProblem(await postStripe('not json'), 400, 'event_id_missing');
    expect(await inboundCount()).toBe(before);
  });

  it('answers 503 store_unavailable when the event cannot be committed, stores nothing, and stores it once the table is back', async () => {
    const { eventId, body } = succeededBody();
    const header = await signStripe(body, STRIPE_SECRET, deps.clock());
    const before = await inboundCount();
    await db.sql`alter table gw.inbound_events rename to inbound_events_away`;
    try {
      const body503 = await expectProblem(
        await postInbound(stripeSourceId, body, { 'stripe-signature': header }),
        503,
        'store_unavailable',
      );
      expect(String(body503.detail)).not.toMatch(/inbound_events|relation|does not exist/);
    } finally {
      await db.sql`alter table gw.inbound_events_away rename to inbound_events`;
    }
    expect(await inboundCount()).toBe(before);
    // The PSP retries the same request and it goes through.
    const retried = await postInbound(stripeSourceId, body, { 'stripe-signature': header });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ received: true, duplicate: false });
    expect(await rowsFor(stripeSourceId, eventId)).toHaveLength(1);
  });

  it('answers 503 store_unavailable when the database cannot be reached at all', async () => {
    const closed = createSql(db.url, { max: 1 });
    await closed.end();
    const downApp = testApp({ ...deps, sql: closed });
    const { body } = succeededBody();
    const res = await downApp.request(`/inbound/${stripeSourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, NOW) },
      body,
    });
    await expectProblem(res, 503, 'store_unavailable');
  });
});

describe('POST /inbound/{sourceId} with a Standard Webhooks source', () => {
  const payload = (psp: string) =>
    JSON.stringify({ type: 'payment.captured', data: { pspReference: psp, currency: 'eur', amount: 1500, capturedAmount: 1500 } });

  it('accepts a signStandardWebhooks-signed event and stores it under its webhook-id', async () => {
    const body = payload('psp_sw_1');
    const headers = await signStandardWebhooks({ id: 'msg_sw_0001', body, secret: SW_SECRET, at: deps.clock() });
    const res = await postInbound(swSourceId, body, headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    const rows = await rowsFor(swSourceId, 'msg_sw_0001');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('received');
    expect(rows[0]!.event_type).toBe('payment.captured');
    expect(Buffer.from(rows[0]!.raw_body).toString('utf8')).toBe(body);
    expect(await jobsFor(rows[0]!.id)).toHaveLength(1);

    const again = await postInbound(swSourceId, body, headers);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
  });

  it('accepts the same headers under svix-* names', async () => {
    const body = payload('psp_sw_2');
    const signed = await signStandardWebhooks({ id: 'msg_svix_0002', body, secret: SW_SECRET, at: deps.clock() });
    const headers = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.replace(/^webhook-/, 'svix-'), v]));
    expect(Object.keys(headers).sort()).toEqual(['svix-id', 'svix-signature', 'svix-timestamp']);
    const res = await postInbound(swSourceId, body, headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    expect(await rowsFor(swSourceId, 'msg_svix_0002')).toHaveLength(1);
  });

  it('refuses a Standard Webhooks event signed with another secret, and one signed for the Stripe source, storing nothing', async () => {
    const body = payload('psp_sw_3');
    const before = await inboundCount();
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const wrong = await signStandardWebhooks({ id: 'msg_sw_0003', body, secret: other, at: deps.clock() });
    await expectProblem(await postInbound(swSourceId, body, wrong), 401, 'signature_invalid');
    const right = await signStandardWebhooks({ id: 'msg_sw_0003', body, secret: SW_SECRET, at: deps.clock() });
    await expectProblem(await postInbound(stripeSourceId, body, right), 401, 'signature_missing');
    expect(await inboundCount()).toBe(before);
  });
});
