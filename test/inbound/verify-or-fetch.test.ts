// Verify or fetch (README "Verify or fetch"): a `trust: fetch` source's events are verified and stored as any
// other, then processing applies the object read back from Stripe (the simulator, on msw) instead of the payload.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import {
  fetchInboundObjects,
  processInboundEvent,
  processInboundEvents,
  type ProcessOutcome,
} from '../../src/inbound/process-event.task.js';
import { storeInboundBatch } from '../../src/inbound/inbound-event-store.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent, type SimulatedStripeType, type StripeScenario } from '../../src/dev/simulate/stripe.js';
import { stripeSimulator, type SimulatedPaymentIntent, type StripeSimulator } from '../../src/dev/simulators/index.js';
import { readPspObjects } from '../../src/payments-api/psp-objects.js';
import { FETCH_RETRY_SECONDS } from '../../src/inbound/verify-or-fetch.js';
import { createMetrics } from '../../src/app/node/metrics.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const SECRET = 'whsec_verify_or_fetch_test_0123456789';
const SK = 'sk_test_verify_or_fetch_0123456789';
const STRIPE_BASE = 'https://stripe.simulator.test';
/** The budget of this file's deps: small, so that a test can use it up. */
const PER_MINUTE = 3;

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let now = new Date('2026-03-02T10:00:05.000Z');
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = {
    ...(await testDeps(db, { clock: () => now, env: { SWITCHYARD_PSP_FETCH_PER_MINUTE: String(PER_MINUTE) } })),
    readPspObjects,
  };
  app = testApp(deps);
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await expectEventsMatchCatalogue(db.sql);
  await db.drop();
});

interface Shop {
  merchantId: string;
  apiKey: string;
  sourceId: string;
  sim: StripeSimulator;
}

/** A merchant of its own with a Stripe source of `trust` and a simulator of its Stripe account. */
async function aShop(trust: 'signature' | 'fetch'): Promise<Shop> {
  const m = await aMerchant(deps, `Shop ${trust}`);
  const res = await app.request(
    '/v1/sources',
    jsonRequest('POST', { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE, trust }, m.apiKey),
  );
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; trust: string };
  expect(body.trust).toBe(trust);
  const sim = stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: SK });
  server.use(...sim.handlers);
  return { merchantId: m.id, apiKey: m.apiKey, sourceId: body.id, sim };
}

let piCounter = 0;
/** A PaymentIntent as the simulator (Stripe) holds it. */
function aPaymentIntent(sim: StripeSimulator, fields: Partial<SimulatedPaymentIntent>): SimulatedPaymentIntent {
  piCounter += 1;
  const pi: SimulatedPaymentIntent = {
    id: `pi_sim${piCounter}`,
    object: 'payment_intent',
    amount: 2000,
    amount_capturable: 0,
    amount_received: 0,
    currency: 'usd',
    capture_method: 'automatic',
    status: 'requires_payment_method',
    metadata: {},
    last_payment_error: null,
    latest_charge: null,
    created: Math.floor(now.getTime() / 1000),
    livemode: false,
    amount_refunded: 0,
    ...fields,
  };
  sim.paymentIntents.set(pi.id, pi);
  return pi;
}

/** Sends a signed Stripe event through the real inbound route; returns the stored inbound event's id. */
async function ingest(shop: Shop, type: SimulatedStripeType, scenario: StripeScenario, patch?: (object: Record<string, unknown>) => void) {
  const event = buildStripeEvent(type, { at: now, ...scenario });
  patch?.((event.data as { object: Record<string, unknown> }).object);
  const body = JSON.stringify(event);
  const res = await app.request(`/inbound/${shop.sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, SECRET, now) },
    body,
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ received: true, duplicate: false });
  const [row] = await db.sql<{ id: string }[]>`
    select id from gw.inbound_events where source_id = ${shop.sourceId} and event_id = ${event.id as string}`;
  return row!.id;
}

async function inboundRow(id: string) {
  const [row] = await db.sql<{ status: string; error: string | null; payment_id: string | null }[]>`
    select status, error, payment_id from gw.inbound_events where id = ${id}`;
  return row!;
}

async function paymentsOf(merchantId: string) {
  return db.sql<{ psp_reference: string; status: string; captured_amount: string }[]>`
    select psp_reference, status, captured_amount::text from gw.payments where merchant_id = ${merchantId} order by id`;
}

async function ledgerRows(merchantId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions where merchant_id = ${merchantId}`;
  return row!.n;
}

/** The queued `fetch_inbound_objects` jobs that carry `id`: their payload's ids and when they are due. */
async function fetchJobsFor(id: string) {
  return db.sql<{ ids: string[]; runAt: Date }[]>`
    select array(select jsonb_array_elements_text(j.payload::jsonb->'inboundEventIds')) as ids, j.run_at as "runAt"
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'fetch_inbound_objects'
       and j.payload::jsonb->'inboundEventIds' ? ${id}
     order by j.id`;
}

/** What the worker does: the processing task, then the `fetch_inbound_objects` task for the events it deferred. */
async function processAndFetch(ids: string[]): Promise<ProcessOutcome[]> {
  const first = await processInboundEvents(deps, ids);
  const deferred = ids.filter((_, n) => first[n]!.result === 'deferred');
  if (deferred.length === 0) return first;
  const fetched = await fetchInboundObjects(deps, { inboundEventIds: deferred });
  return ids.map((id, n) => (deferred.includes(id) ? fetched[deferred.indexOf(id)]! : first[n]!));
}

const processOne = async (id: string): Promise<ProcessOutcome> => (await processAndFetch([id]))[0]!;

const reads = (sim: StripeSimulator) => sim.calls.filter((c) => c.method === 'GET').map((c) => `${c.path} ${c.status}`);

describe('a trust: fetch source', () => {
  it('does not capture a payment whose payload claims succeeded while Stripe says requires_payment_method', async () => {
    const shop = await aShop('fetch');
    const pi = aPaymentIntent(shop.sim, { status: 'requires_payment_method' });
    const iev = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id, amount: 2000 });
    // stored as any verified event: the ack did not call Stripe
    expect(shop.sim.calls).toEqual([]);

    // processing hands it to a job of its own, which reads the PaymentIntent outside any transaction
    expect((await processInboundEvent(deps, { inboundEventId: iev })).result).toBe('deferred');
    expect(shop.sim.calls).toEqual([]);
    expect(await inboundRow(iev)).toMatchObject({ status: 'received' });
    expect((await fetchJobsFor(iev)).map((j) => j.ids)).toEqual([[iev]]);
    const [outcome] = await fetchInboundObjects(deps, { inboundEventIds: [iev] });
    expect(outcome!.result).toBe('ignored');
    expect(reads(shop.sim)).toEqual([`/v1/payment_intents/${pi.id} 200`]);
    const row = await inboundRow(iev);
    expect(row.status).toBe('ignored');
    expect(row.error).toContain('requires_payment_method');
    expect(await paymentsOf(shop.merchantId)).toEqual([]);
    expect(await ledgerRows(shop.merchantId)).toBe(0);
  });

  it("applies Stripe's amounts, not the payload's", async () => {
    const shop = await aShop('fetch');
    const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount: 2000, amount_received: 2000, latest_charge: 'ch_sim_a' });
    const iev = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id, amount: 900_000 });
    const outcome = await processOne(iev);
    expect(outcome.result).toBe('applied');
    expect(await paymentsOf(shop.merchantId)).toEqual([{ psp_reference: pi.id, status: 'captured', captured_amount: '2000' }]);
  });

  it('marks an event whose object Stripe does not know failed with the reason, and applies nothing', async () => {
    const shop = await aShop('fetch');
    const iev = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: 'pi_nobody_knows', amount: 2000 });
    const outcome = await processOne(iev);
    expect(outcome.result).toBe('failed');
    expect(reads(shop.sim)).toEqual(['/v1/payment_intents/pi_nobody_knows 404']);
    const row = await inboundRow(iev);
    expect(row.status).toBe('failed');
    expect(row.error).toContain('Stripe does not know payment_intent pi_nobody_knows (404: resource_missing');
    expect(row.error).toContain('the payload was not applied');
    expect(await paymentsOf(shop.merchantId)).toEqual([]);
  });

  it('marks an event failed with the reason when Stripe refuses the API key, without the key in it', async () => {
    const shop = await aShop('fetch');
    const wrongKey = 'sk_test_rolled_away_0123456789';
    const patched = await app.request(`/v1/sources/${shop.sourceId}`, jsonRequest('PATCH', { apiKey: wrongKey }, shop.apiKey));
    expect(patched.status).toBe(200);
    const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 });
    const iev = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    expect((await processOne(iev)).result).toBe('failed');
    const row = await inboundRow(iev);
    expect(row.error).toContain(`Stripe refused to read payment_intent ${pi.id} (401`);
    expect(row.error).not.toContain(wrongKey);
    expect(await paymentsOf(shop.merchantId)).toEqual([]);
  });

  it('reads the charge of a charge.refunded and applies the refunded total Stripe shows', async () => {
    const shop = await aShop('fetch');
    const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000, latest_charge: 'ch_sim_refund' });
    const captured = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    expect((await processOne(captured)).result).toBe('applied');
    pi.amount_refunded = 500;
    // the payload claims a full refund; Stripe's charge shows 500
    const refunded = await ingest(shop, 'charge.refunded', { paymentIntent: pi.id, amountRefunded: 2000 }, (o) => {
      o.id = 'ch_sim_refund';
    });
    expect((await processOne(refunded)).result).toBe('applied');
    expect(reads(shop.sim)).toEqual([`/v1/payment_intents/${pi.id} 200`, '/v1/charges/ch_sim_refund 200']);
    const [payment] = await db.sql<{ status: string; refunded_amount: string }[]>`
      select status, refunded_amount::text from gw.payments where merchant_id = ${shop.merchantId}`;
    expect(payment).toEqual({ status: 'partially_refunded', refunded_amount: '500' });
  });

  it('reads each distinct object once for the events of one transaction', async () => {
    const shop = await aShop('fetch');
    const pi = aPaymentIntent(shop.sim, { status: 'requires_capture', amount_capturable: 2000 });
    const a = await ingest(shop, 'payment_intent.amount_capturable_updated', { paymentIntent: pi.id });
    const b = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    const outcomes = await processAndFetch([a, b]);
    expect(outcomes.map((o) => o.result)).toEqual(['applied', 'stale']);
    expect(reads(shop.sim)).toEqual([`/v1/payment_intents/${pi.id} 200`]);
    expect(await paymentsOf(shop.merchantId)).toEqual([{ psp_reference: pi.id, status: 'authorized', captured_amount: '0' }]);
  });

  it('makes no call for an event type it does not apply', async () => {
    const shop = await aShop('fetch');
    const body = JSON.stringify({ id: 'evt_customer_1', object: 'event', type: 'customer.created', data: { object: { id: 'cus_1' } } });
    const res = await app.request(`/inbound/${shop.sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, SECRET, now) },
      body,
    });
    expect(res.status).toBe(200);
    const [row] = await db.sql<{ id: string }[]>`select id from gw.inbound_events where source_id = ${shop.sourceId}`;
    expect((await processOne(row!.id)).result).toBe('ignored');
    expect(shop.sim.calls).toEqual([]);
  });

  it('applies the signature events of a transaction at once and the fetch events after their reads, in one call', async () => {
    // the last simulator installed answers Stripe's URL: the fetch shop's
    const signatureShop = await aShop('signature');
    const fetchShop = await aShop('fetch');
    const pi = aPaymentIntent(fetchShop.sim, { status: 'succeeded', amount_received: 2000 });
    const viaFetch = await ingest(fetchShop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    const viaSignature = await ingest(signatureShop, 'payment_intent.succeeded', { amount: 1500 });
    const outcomes = await processAndFetch([viaFetch, viaSignature]);
    expect(outcomes.map((o) => o.result)).toEqual(['applied', 'applied']);
    expect(signatureShop.sim.calls).toEqual([]);
    expect((await paymentsOf(signatureShop.merchantId)).map((p) => p.captured_amount)).toEqual(['1500']);
    expect((await paymentsOf(fetchShop.merchantId)).map((p) => p.captured_amount)).toEqual(['2000']);
  });

  it("leaves a fetch event another job's transaction topped up to its own job", async () => {
    const shop = await aShop('fetch');
    const signatureSource = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, shop.apiKey));
    const otherSource = ((await signatureSource.json()) as { id: string }).id;
    const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 });
    const fetchEvent = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    const signatureEvent = await ingest({ ...shop, sourceId: otherSource }, 'payment_intent.succeeded', { amount: 700 });
    // the signature event's job tops its transaction up with the merchant's other received events
    const [outcome] = await processInboundEvents(deps, [signatureEvent], { batchSize: 10 });
    expect(outcome!.result).toBe('applied');
    expect((await inboundRow(fetchEvent)).status).toBe('received');
    expect(shop.sim.calls).toEqual([]);
    expect((await processOne(fetchEvent)).result).toBe('applied');
  });
});

describe('PSP reads per merchant', () => {
  it('past the budget, waits for the next minute (a job queued then) rather than failing, and counts the reads', async () => {
    now = new Date('2026-03-02T11:00:10.000Z');
    const shop = await aShop('fetch');
    const pis = [0, 1, 2, 3].map(() => aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 }));
    const ids: string[] = [];
    for (const pi of pis) ids.push(await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id }));

    const outcomes = await processAndFetch(ids);
    expect(outcomes.map((o) => o.result)).toEqual(['applied', 'applied', 'applied', 'deferred']);
    const deferred = outcomes[3]!;
    expect(deferred.result === 'deferred' && deferred.runAt.toISOString()).toBe('2026-03-02T11:01:00.000Z');
    expect(deferred.result === 'deferred' && deferred.reason).toContain(`${PER_MINUTE} a minute`);
    expect(reads(shop.sim)).toHaveLength(PER_MINUTE);
    expect((await inboundRow(ids[3]!)).status).toBe('received');
    expect((await fetchJobsFor(ids[3]!)).map((j) => [j.ids, j.runAt.toISOString()])).toContainEqual([[ids[3]], '2026-03-02T11:01:00.000Z']);

    // still this minute: nothing left to read with
    expect((await processOne(ids[3]!)).result).toBe('deferred');
    expect(reads(shop.sim)).toHaveLength(PER_MINUTE);

    now = new Date('2026-03-02T11:01:00.500Z');
    expect((await processOne(ids[3]!)).result).toBe('applied');
    const [usage] = await db.sql<{ window_calls: number; total_calls: string }[]>`
      select window_calls, total_calls::text from gw.psp_fetch_usage where merchant_id = ${shop.merchantId}`;
    expect(usage).toEqual({ window_calls: 1, total_calls: '4' });
  });

  it('deletes a handed job in the transaction that hands its fetch events to a job of their own; that job queues the waiting ones anew', async () => {
    now = new Date('2026-03-02T11:30:10.000Z');
    const shop = await aShop('fetch');
    const events = [0, 1, 2, 3].map(() => {
      const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 });
      const event = buildStripeEvent('payment_intent.succeeded', { paymentIntent: pi.id, at: now });
      return {
        sourceId: shop.sourceId,
        merchantId: shop.merchantId,
        eventId: event.id as string,
        eventType: event.type as string,
        rawBody: new TextEncoder().encode(JSON.stringify(event)),
        headers: {},
      };
    });
    const poolId = 'pool-verify-or-fetch-test';
    const stored = await storeInboundBatch(db.sql, events, { lockedBy: poolId });
    expect(stored.handed).toBeDefined();
    const ids = stored.handed!.inboundEventIds;
    const handedJobs = { poolId, jobIds: [stored.handed!.jobId], removed: false };

    const outcomes = await processInboundEvents(deps, ids, { handedJobs });
    expect(outcomes.map((o) => o.result)).toEqual(['deferred', 'deferred', 'deferred', 'deferred']);
    expect(handedJobs.removed).toBe(true);
    expect(await db.sql`select 1 from graphile_worker._private_jobs where id = ${stored.handed!.jobId}::bigint`).toHaveLength(0);
    expect((await fetchJobsFor(ids[0]!)).map((j) => j.ids)).toEqual([ids]);

    const fetched = await fetchInboundObjects(deps, { inboundEventIds: ids });
    expect(fetched.map((o) => o.result)).toEqual(['applied', 'applied', 'applied', 'deferred']);
    // (the first job, due at once, is the one this call stands for: the worker completes it)
    const jobs = await fetchJobsFor(ids[3]!);
    expect(jobs.map((j) => j.ids)).toEqual([ids, [ids[3]]]);
    expect(jobs[1]!.runAt.toISOString()).toBe('2026-03-02T11:31:00.000Z');
  });

  it('waits when Stripe does not answer, then applies', async () => {
    now = new Date('2026-03-02T12:00:00.000Z');
    const shop = await aShop('fetch');
    const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 });
    const iev = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    shop.sim.failNext({ mode: 'server_error' });
    const outcome = await processOne(iev);
    expect(outcome.result).toBe('deferred');
    expect(outcome.result === 'deferred' && outcome.runAt.toISOString()).toBe('2026-03-02T12:01:00.000Z');
    expect((await inboundRow(iev)).status).toBe('received');
    expect((await processOne(iev)).result).toBe('applied');
  });

  it('backs off along FETCH_RETRY_SECONDS while Stripe does not answer, then fails the event; every read is counted', async () => {
    now = new Date('2026-03-02T13:00:00.000Z');
    const shop = await aShop('fetch');
    const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 });
    const iev = await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id });
    const metrics = createMetrics(db.sql);
    const measured: Deps = { ...deps, metrics };
    shop.sim.failNext({ mode: 'server_error', count: FETCH_RETRY_SECONDS.length + 1 });
    expect((await processInboundEvents(measured, [iev]))[0]!.result).toBe('deferred');
    const retriesQueued = async () =>
      (
        await db.sql<{ retries: number | null; runAt: Date }[]>`
          select (j.payload::jsonb->>'retries')::int as retries, j.run_at as "runAt"
            from graphile_worker._private_jobs j
            join graphile_worker._private_tasks t on t.id = j.task_id
           where t.identifier = 'fetch_inbound_objects' and j.payload::jsonb->'inboundEventIds' ? ${iev}
           order by j.id desc limit 1`
      )[0]!;
    for (let retries = 0; retries < FETCH_RETRY_SECONDS.length; retries++) {
      const [outcome] = await fetchInboundObjects(measured, { inboundEventIds: [iev], ...(retries > 0 ? { retries } : {}) });
      const due = new Date(now.getTime() + FETCH_RETRY_SECONDS[retries]! * 1000);
      expect(outcome!.result === 'deferred' && outcome!.runAt.toISOString(), `retry ${retries}`).toBe(due.toISOString());
      // The next job carries one more retry and is due after this step's wait.
      expect(await retriesQueued()).toEqual({ retries: retries + 1, runAt: due });
      now = due;
    }
    expect(FETCH_RETRY_SECONDS.slice(0, 3)).toEqual([60, 120, 300]);
    const [last] = await fetchInboundObjects(measured, { inboundEventIds: [iev], retries: FETCH_RETRY_SECONDS.length });
    expect(last!.result).toBe('failed');
    const row = await inboundRow(iev);
    expect(row.status).toBe('failed');
    expect(row.error).toContain(`the PSP did not answer ${FETCH_RETRY_SECONDS.length + 1} reads`);
    expect(await paymentsOf(shop.merchantId)).toEqual([]);
    expect(reads(shop.sim)).toHaveLength(FETCH_RETRY_SECONDS.length + 1);

    const { body } = await metrics.render();
    expect(body).toContain(`switchyard_psp_fetch_reads_total{provider="stripe",outcome="unavailable"} ${FETCH_RETRY_SECONDS.length}`);
    expect(body).toContain('switchyard_psp_fetch_reads_total{provider="stripe",outcome="given_up"} 1');
    expect(body).toContain(`switchyard_psp_fetch_duration_seconds_count{provider="stripe"} ${FETCH_RETRY_SECONDS.length + 1}`);
  });

  it('counts found reads and reads past the budget in the metrics', async () => {
    now = new Date('2026-03-02T14:00:10.000Z');
    const shop = await aShop('fetch');
    const metrics = createMetrics(db.sql);
    const measured: Deps = { ...deps, metrics };
    const ids: string[] = [];
    for (let i = 0; i <= PER_MINUTE; i++) {
      const pi = aPaymentIntent(shop.sim, { status: 'succeeded', amount_received: 2000 });
      ids.push(await ingest(shop, 'payment_intent.succeeded', { paymentIntent: pi.id }));
    }
    expect((await processInboundEvents(measured, ids)).every((o) => o.result === 'deferred')).toBe(true);
    const outcomes = await fetchInboundObjects(measured, { inboundEventIds: ids });
    expect(outcomes.map((o) => o.result)).toEqual([...Array(PER_MINUTE).fill('applied'), 'deferred']);
    const { body } = await metrics.render();
    expect(body).toContain(`switchyard_psp_fetch_reads_total{provider="stripe",outcome="found"} ${PER_MINUTE}`);
    expect(body).toContain('switchyard_psp_fetch_reads_total{provider="stripe",outcome="over_budget"} 1');
    // Waiting for the budget is not a retry: the job queued for the rest carries none.
    const [job] = await db.sql<{ retries: string | null }[]>`
      select j.payload::jsonb->>'retries' as retries
        from graphile_worker._private_jobs j
        join graphile_worker._private_tasks t on t.id = j.task_id
       where t.identifier = 'fetch_inbound_objects' and j.payload::jsonb->'inboundEventIds' ? ${ids[PER_MINUTE]!}
       order by j.id desc limit 1`;
    expect(job!.retries).toBeNull();
  });

  it('a source with trust: signature reads nothing and counts nothing', async () => {
    const shop = await aShop('signature');
    const iev = await ingest(shop, 'payment_intent.succeeded', { amount: 1200 });
    expect((await processInboundEvent(deps, { inboundEventId: iev })).result).toBe('applied');
    expect(shop.sim.calls).toEqual([]);
    expect(await fetchJobsFor(iev)).toEqual([]);
    expect(await db.sql`select 1 from gw.psp_fetch_usage where merchant_id = ${shop.merchantId}`).toHaveLength(0);
  });
});

describe('trust on POST and PATCH /v1/sources', () => {
  const problemOf = async (res: Response) => {
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    return (await res.json()) as { code: string; errors: { path: (string | number)[]; message: string }[] };
  };

  it('refuses trust: fetch on an Adyen source with the reason', async () => {
    const m = await aMerchant(deps, 'Adyen shop');
    const res = await app.request(
      '/v1/sources',
      jsonRequest(
        'POST',
        {
          provider: 'adyen',
          secret: '777e5ec20fe85331a4acba41728b10d6f31b4152ca1f04c0fe66163a9479166f',
          apiKey: 'AQE_adyen_key',
          trust: 'fetch',
        },
        m.apiKey,
      ),
    );
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe('invalid_request');
    expect(problem.errors).toEqual([{ path: ['trust'], message: expect.stringContaining('Adyen documents no API'), code: 'custom' }]);
  });

  it('refuses trust: fetch without an apiKey', async () => {
    const m = await aMerchant(deps, 'No key shop');
    const res = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET, trust: 'fetch' }, m.apiKey));
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors[0]!.message).toContain('needs the source');
  });

  it('defaults to signature, and PATCH switches to fetch once the source has a key', async () => {
    const m = await aMerchant(deps, 'Patch shop');
    const created = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, m.apiKey));
    const source = (await created.json()) as { id: string; trust: string };
    expect(source.trust).toBe('signature');

    const noKey = await app.request(`/v1/sources/${source.id}`, jsonRequest('PATCH', { trust: 'fetch' }, m.apiKey));
    expect(noKey.status).toBe(400);
    expect((await problemOf(noKey)).errors[0]!.path).toEqual(['trust']);

    const withKey = await app.request(`/v1/sources/${source.id}`, jsonRequest('PATCH', { trust: 'fetch', apiKey: SK }, m.apiKey));
    expect(withKey.status).toBe(200);
    const text = await withKey.text();
    expect(text).not.toContain(SK);
    expect(JSON.parse(text)).toMatchObject({ id: source.id, trust: 'fetch' });
    const got = await app.request(`/v1/sources/${source.id}`, { headers: { authorization: `Bearer ${m.apiKey}` } });
    expect(await got.json()).toMatchObject({ trust: 'fetch' });

    const back = await app.request(`/v1/sources/${source.id}`, jsonRequest('PATCH', { trust: 'signature' }, m.apiKey));
    expect(await back.json()).toMatchObject({ trust: 'signature' });
    const empty = await app.request(`/v1/sources/${source.id}`, jsonRequest('PATCH', {}, m.apiKey));
    expect(empty.status).toBe(400);
  });

  it("refuses PATCH trust: fetch on an Adyen source, and is 404 for another merchant's source", async () => {
    const m = await aMerchant(deps, 'Adyen patch shop');
    const created = await app.request(
      '/v1/sources',
      jsonRequest(
        'POST',
        { provider: 'adyen', secret: 'a8250f6f236abcc6283f34632d9ac2307ef298cbdb391ba11f50da0191461c11', apiKey: 'AQE_adyen_key' },
        m.apiKey,
      ),
    );
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const res = await app.request(`/v1/sources/${id}`, jsonRequest('PATCH', { trust: 'fetch' }, m.apiKey));
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors[0]!.message).toContain('Adyen documents no API');

    const other = await aMerchant(deps, 'Other shop');
    const foreign = await app.request(`/v1/sources/${id}`, jsonRequest('PATCH', { trust: 'signature' }, other.apiKey));
    expect(foreign.status).toBe(404);
  });
});
