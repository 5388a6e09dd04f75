import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { processInboundEvent, processInboundEvents, type ProcessOutcome } from '../../src/inbound/process-event.task.js';
import { recordInboundEvent } from '../record-inbound-event.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent, type StripeScenario } from '../../src/dev/simulate/stripe.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const NOW = new Date('2025-06-02T10:00:00.000Z');
const AT = NOW.toISOString();
const SECRET = 'whsec_process_event_test_0123456789';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: fixedClock(NOW) });
  app = testApp(deps);
});
afterAll(async () => {
  // Every event processing emitted here is valid against the published event catalogue.
  await expectEventsMatchCatalogue(db.sql);
  await db.drop();
});

interface Shop {
  merchantId: string;
  apiKey: string;
  sourceId: string;
}

/** A merchant of its own (so ledger balances and messages are the test's alone) with a Stripe source. */
async function aShop(name = 'Acme'): Promise<Shop> {
  const m = await aMerchant(deps, name);
  const res = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, m.apiKey));
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  return { merchantId: m.id, apiKey: m.apiKey, sourceId: id };
}

async function anEndpoint(shop: Shop, body: Record<string, unknown>): Promise<string> {
  const res = await app.request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:9/hooks', ...body }, shop.apiKey));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/**
 * Sends a Stripe event through the real inbound route (signed at the deps clock's now) and
 * returns the id of the stored inbound event.
 */
async function ingest(shop: Shop, event: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify(event);
  const res = await app.request(`/inbound/${shop.sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, SECRET, deps.clock()) },
    body,
  });
  expect(res.status).toBe(200);
  const [row] = await db.sql<{ id: string }[]>`
    select id from gw.inbound_events where source_id = ${shop.sourceId} and event_id = ${event.id as string}`;
  expect(row?.id).toMatch(/^iev_/);
  return row!.id;
}

function stripeEvent(type: Parameters<typeof buildStripeEvent>[0], s: StripeScenario): Record<string, unknown> {
  return buildStripeEvent(type, { at: NOW, ...s });
}

async function getJson<T = Record<string, unknown>>(shop: Shop, path: string): Promise<{ status: number; body: T }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${shop.apiKey}` } });
  return { status: res.status, body: (await res.json()) as T };
}

async function inboundRow(id: string) {
  const [row] = await db.sql<{ status: string; payment_id: string | null; error: string | null; processed_at: Date | null }[]>`
    select status, payment_id, error, processed_at from gw.inbound_events where id = ${id}`;
  return row!;
}

/** How many rows the merchant has of everything processing writes. */
async function counts(merchantId: string) {
  const [row] = await db.sql<Record<string, number>[]>`
    select
      (select count(*)::int from gw.payments where merchant_id = ${merchantId}) as payments,
      (select count(*)::int from gw.payment_transitions t join gw.payments p on p.id = t.payment_id
        where p.merchant_id = ${merchantId}) as transitions,
      (select count(*)::int from gw.ledger_transactions where merchant_id = ${merchantId}) as "ledgerTransactions",
      (select count(*)::int from gw.ledger_entries e join gw.ledger_transactions t on t.id = e.transaction_id
        where t.merchant_id = ${merchantId}) as "ledgerEntries",
      (select count(*)::int from gw.events where merchant_id = ${merchantId}) as events,
      (select count(*)::int from gw.messages where merchant_id = ${merchantId}) as messages,
      (select count(*)::int
         from graphile_worker._private_jobs j
         join graphile_worker._private_tasks k on k.id = j.task_id
         -- a job's payload is one delivery attempt or an array of them (a batch)
         cross join lateral json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
         join gw.messages m on m.id = e.value->>'messageId'
        where k.identifier = 'deliver_message' and m.merchant_id = ${merchantId}) as "deliverJobs"`;
  return row!;
}

async function balances(shop: Shop): Promise<Record<string, number>> {
  const { status, body } = await getJson<{ data: { account: string; currency: string; balance: number }[] }>(
    shop,
    '/v1/ledger/balances?currency=USD',
  );
  expect(status).toBe(200);
  return Object.fromEntries(body.data.map((b) => [b.account, b.balance]));
}

async function ledgerCheck(shop: Shop) {
  const { status, body } = await getJson<{ balanced: boolean; currencies: unknown[]; unbalancedTransactions: unknown[] }>(
    shop,
    '/v1/ledger/check',
  );
  expect(status).toBe(200);
  return body;
}

interface LedgerTx {
  id: string;
  kind: string;
  createdAt: string;
  entries: { account: string; direction: string; amount: number; currency: string }[];
}

const captureEntries = (amount: number) => [
  { account: 'psp_receivable', direction: 'debit', amount, currency: 'USD' },
  { account: 'merchant_payable', direction: 'credit', amount, currency: 'USD' },
];
const refundEntries = (amount: number) => [
  { account: 'merchant_payable', direction: 'debit', amount, currency: 'USD' },
  { account: 'psp_receivable', direction: 'credit', amount, currency: 'USD' },
];

describe('processInboundEvent on a Stripe payment_intent.succeeded', () => {
  it('captures 2000 USD through pending → authorized → captured, posts one balanced capture, and marks the inbound event processed', async () => {
    const shop = await aShop();
    const event = stripeEvent('payment_intent.succeeded', { amount: 2000, currency: 'usd' });
    const pi = (event.data as { object: { id: string } }).object.id;
    const iev = await ingest(shop, event);

    const outcome = await processInboundEvent(deps, { inboundEventId: iev });
    expect(outcome).toEqual({
      result: 'applied',
      paymentId: expect.stringMatching(/^pay_[0-9a-f]{32}$/),
      steps: 2,
      postings: 1,
      events: 2,
    });
    const paymentId = (outcome as { paymentId: string }).paymentId;

    const payment = await getJson(shop, `/v1/payments/${paymentId}`);
    expect(payment.status).toBe(200);
    expect(payment.body).toEqual({
      id: paymentId,
      sourceId: shop.sourceId,
      pspReference: pi,
      status: 'captured',
      amount: 2000,
      currency: 'USD',
      capturedAmount: 2000,
      refundedAmount: 0,
      chargedBackAmount: 0,
      overRefundedAmount: 0,
      flags: [],
      merchantReference: null,
      operations: [],
      possibleDuplicateOf: null,
      review: null,
      createdAt: expect.any(String),
      updatedAt: AT,
    });

    const transitions = await getJson(shop, `/v1/payments/${paymentId}/transitions`);
    expect(transitions.status).toBe(200);
    expect(transitions.body).toEqual({
      data: [
        { from: null, to: 'pending', cause: iev, at: AT },
        { from: 'pending', to: 'authorized', cause: iev, at: AT },
        { from: 'authorized', to: 'captured', cause: iev, at: AT },
      ],
    });

    const ledger = await getJson<{ data: LedgerTx[] }>(shop, `/v1/payments/${paymentId}/ledger`);
    expect(ledger.status).toBe(200);
    expect(ledger.body.data).toHaveLength(1);
    expect(ledger.body.data[0]).toMatchObject({
      id: expect.stringMatching(/^ltx_/),
      kind: 'capture',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      entries: captureEntries(2000),
    });

    const row = await inboundRow(iev);
    expect(row).toEqual({ status: 'processed', payment_id: paymentId, error: null, processed_at: NOW });
    const viaApi = await getJson(shop, `/v1/inbound-events/${iev}`);
    expect(viaApi.body).toMatchObject({ id: iev, status: 'processed', paymentId, eventType: 'payment_intent.succeeded' });

    expect(await balances(shop)).toEqual({ psp_receivable: 2000, merchant_payable: -2000 });
    const check = await ledgerCheck(shop);
    expect(check).toMatchObject({
      balanced: true,
      currencies: [{ currency: 'USD', debits: 2000, credits: 2000 }],
      unbalancedTransactions: [],
    });
  });

  it('emits payment.captured to a subscribed endpoint with one message and one delivery job, and nothing to an endpoint subscribed only to payment.refunded', async () => {
    const shop = await aShop();
    const everything = await anEndpoint(shop, {});
    const refundsOnly = await anEndpoint(shop, { eventTypes: ['payment.refunded'] });
    const iev = await ingest(shop, stripeEvent('payment_intent.succeeded', { amount: 2000 }));
    const outcome = await processInboundEvent(deps, { inboundEventId: iev });
    expect(outcome.result).toBe('applied');
    const paymentId = (outcome as { paymentId: string }).paymentId;

    const events = await db.sql<{ id: string; type: string; payment_id: string; payload: Uint8Array }[]>`
      select e.id, e.type, e.payment_id, p.payload
        from gw.events e join gw.event_payloads p on p.event_id = e.id
       where e.merchant_id = ${shop.merchantId} and e.type = 'payment.captured'`;
    expect(events).toHaveLength(1);
    const captured = events[0]!;
    expect(captured.id).toMatch(/^evt_/);
    expect(captured.payment_id).toBe(paymentId);
    const payload = JSON.parse(Buffer.from(captured.payload).toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(payload).sort()).toEqual(['data', 'timestamp', 'type']);
    expect(payload).toMatchObject({
      type: 'payment.captured',
      timestamp: AT,
      data: {
        id: paymentId,
        status: 'captured',
        amount: 2000,
        currency: 'USD',
        capturedAmount: 2000,
        refundedAmount: 0,
        sourceId: shop.sourceId,
      },
    });

    const messages = await db.sql<{ id: string; endpoint_id: string; status: string }[]>`
      select id, endpoint_id, status from gw.messages where event_id = ${captured.id}`;
    expect(messages).toEqual([{ id: expect.stringMatching(/^msg_/), endpoint_id: everything, status: 'pending' }]);
    const jobs = await db.sql<{ payload: { messageId: string; attempt: number } }[]>`
      select e.value as payload
        from graphile_worker._private_jobs j
        join graphile_worker._private_tasks k on k.id = j.task_id
       cross join lateral json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
       where k.identifier = 'deliver_message' and e.value->>'messageId' = ${messages[0]!.id}`;
    expect(jobs).toEqual([{ payload: { messageId: messages[0]!.id, attempt: 1 } }]);

    const [toRefundsOnly] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.messages where endpoint_id = ${refundsOnly}`;
    expect(toRefundsOnly!.n).toBe(0);
  });
});

describe('processInboundEvent applies each inbound event once', () => {
  it('answers already_processed the second time and doubles nothing', async () => {
    const shop = await aShop();
    await anEndpoint(shop, {});
    const iev = await ingest(shop, stripeEvent('payment_intent.succeeded', { amount: 2000 }));
    expect((await processInboundEvent(deps, { inboundEventId: iev })).result).toBe('applied');
    const after = await counts(shop.merchantId);
    expect(after).toEqual({ payments: 1, transitions: 3, ledgerTransactions: 1, ledgerEntries: 2, events: 2, messages: 2, deliverJobs: 2 });

    expect(await processInboundEvent(deps, { inboundEventId: iev })).toEqual({ result: 'already_processed' });
    expect(await counts(shop.merchantId)).toEqual(after);
  });

  it('applies one inbound event once when 20 calls process it concurrently: one payment effect, one outbound message', async () => {
    const shop = await aShop();
    await anEndpoint(shop, { eventTypes: ['payment.captured'] });
    const iev = await ingest(shop, stripeEvent('payment_intent.succeeded', { amount: 2000 }));
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => processInboundEvent(deps, { inboundEventId: iev })));
    expect(outcomes.filter((o) => o.result === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o.result === 'already_processed')).toHaveLength(19);
    expect(await counts(shop.merchantId)).toEqual({
      payments: 1,
      transitions: 3,
      ledgerTransactions: 1,
      ledgerEntries: 2,
      events: 2,
      messages: 1,
      deliverJobs: 1,
    });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });

  it('creates one payment and one capture when 20 distinct succeeded events for the same PaymentIntent are processed concurrently', async () => {
    const shop = await aShop();
    const base = stripeEvent('payment_intent.succeeded', { amount: 2000 });
    const ievs: string[] = [];
    for (let i = 0; i < 20; i++) {
      ievs.push(await ingest(shop, { ...base, id: `evt_dup_${String(i).padStart(2, '0')}_${Date.now().toString(36)}` }));
    }
    expect(new Set(ievs).size).toBe(20);

    const outcomes: ProcessOutcome[] = await Promise.all(ievs.map((id) => processInboundEvent(deps, { inboundEventId: id })));
    expect(outcomes.filter((o) => o.result === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o.result === 'stale')).toHaveLength(19);
    const paymentIds = new Set(outcomes.map((o) => (o as { paymentId: string }).paymentId));
    expect(paymentIds.size).toBe(1);

    const c = await counts(shop.merchantId);
    expect(c).toMatchObject({ payments: 1, transitions: 3, ledgerTransactions: 1, ledgerEntries: 2 });
    const rows = await db.sql<{ status: string; payment_id: string }[]>`
      select status, payment_id from gw.inbound_events where source_id = ${shop.sourceId}`;
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.status === 'processed' && paymentIds.has(r.payment_id))).toBe(true);
    expect(await balances(shop)).toEqual({ psp_receivable: 2000, merchant_payable: -2000 });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });
});

describe('processInboundEvent with batchSize', () => {
  it("takes the merchant's other received events along, oldest first, and their own jobs then find them already processed", async () => {
    const shop = await aShop();
    const pi = 'pi_batch_size_0001';
    const ids = [
      await ingest(shop, stripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 3000 })),
      await ingest(shop, stripeEvent('charge.refunded', { paymentIntent: pi, amount: 3000, amountRefunded: 1000 })),
      await ingest(shop, stripeEvent('payment_intent.succeeded', { amount: 500 })),
    ];
    const first = await processInboundEvent(deps, { inboundEventId: ids[1]! }, { batchSize: 10 });
    expect(first).toMatchObject({ result: 'applied', postings: 2 });
    for (const id of ids) expect(await inboundRow(id)).toMatchObject({ status: 'processed', processed_at: NOW });
    expect(await processInboundEvent(deps, { inboundEventId: ids[0]! }, { batchSize: 10 })).toEqual({ result: 'already_processed' });
    expect(await processInboundEvent(deps, { inboundEventId: ids[2]! })).toEqual({ result: 'already_processed' });
    expect(await counts(shop.merchantId)).toMatchObject({ payments: 2, ledgerTransactions: 3 });
    expect(await balances(shop)).toEqual({ psp_receivable: 2500, merchant_payable: -2500 });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });
});

describe('processInboundEvent in any arrival order', () => {
  it('applies a refund that arrives before its capture, then treats the late payment_intent.succeeded as stale', async () => {
    const shop = await aShop();
    const pi = 'pi_refund_first_0001';
    const refund = await ingest(shop, stripeEvent('charge.refunded', { paymentIntent: pi, amount: 5000, amountRefunded: 5000 }));
    const refundOutcome = await processInboundEvent(deps, { inboundEventId: refund });
    expect(refundOutcome).toMatchObject({ result: 'applied', steps: 3, postings: 2 });
    const paymentId = (refundOutcome as { paymentId: string }).paymentId;

    const succeeded = await ingest(shop, stripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 5000 }));
    expect(await processInboundEvent(deps, { inboundEventId: succeeded })).toEqual({ result: 'stale', paymentId });
    expect(await inboundRow(succeeded)).toMatchObject({ status: 'processed', payment_id: paymentId, error: null });

    const payment = await getJson(shop, `/v1/payments/${paymentId}`);
    expect(payment.body).toMatchObject({ pspReference: pi, status: 'refunded', amount: 5000, capturedAmount: 5000, refundedAmount: 5000 });
    const transitions = await getJson<{ data: unknown[] }>(shop, `/v1/payments/${paymentId}/transitions`);
    expect(transitions.body.data).toEqual([
      { from: null, to: 'pending', cause: refund, at: AT },
      { from: 'pending', to: 'authorized', cause: refund, at: AT },
      { from: 'authorized', to: 'captured', cause: refund, at: AT },
      { from: 'captured', to: 'refunded', cause: refund, at: AT },
    ]);
    const ledger = await getJson<{ data: LedgerTx[] }>(shop, `/v1/payments/${paymentId}/ledger`);
    expect(ledger.body.data.map((t) => ({ kind: t.kind, entries: t.entries }))).toEqual([
      { kind: 'capture', entries: captureEntries(5000) },
      { kind: 'refund', entries: refundEntries(5000) },
    ]);
    expect(await balances(shop)).toEqual({ psp_receivable: 0, merchant_payable: 0 });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });

  it('moves captured → partially_refunded → refunded on a partial then a full refund, with two refund transactions', async () => {
    const shop = await aShop();
    const pi = 'pi_two_refunds_0001';
    const captured = await processInboundEvent(deps, {
      inboundEventId: await ingest(shop, stripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 1000 })),
    });
    const paymentId = (captured as { paymentId: string }).paymentId;

    const partial = await processInboundEvent(deps, {
      inboundEventId: await ingest(shop, stripeEvent('charge.refunded', { paymentIntent: pi, amount: 1000, amountRefunded: 400 })),
    });
    expect(partial).toMatchObject({ result: 'applied', paymentId, steps: 1, postings: 1 });
    expect((await getJson(shop, `/v1/payments/${paymentId}`)).body).toMatchObject({ status: 'partially_refunded', refundedAmount: 400 });

    const full = await processInboundEvent(deps, {
      inboundEventId: await ingest(shop, stripeEvent('charge.refunded', { paymentIntent: pi, amount: 1000, amountRefunded: 1000 })),
    });
    expect(full).toMatchObject({ result: 'applied', paymentId, steps: 1, postings: 1 });
    expect((await getJson(shop, `/v1/payments/${paymentId}`)).body).toMatchObject({
      status: 'refunded',
      capturedAmount: 1000,
      refundedAmount: 1000,
    });

    const transitions = await getJson<{ data: { from: string | null; to: string }[] }>(shop, `/v1/payments/${paymentId}/transitions`);
    expect(transitions.body.data.map((t) => `${t.from}→${t.to}`)).toEqual([
      'null→pending',
      'pending→authorized',
      'authorized→captured',
      'captured→partially_refunded',
      'partially_refunded→refunded',
    ]);
    const ledger = await getJson<{ data: LedgerTx[] }>(shop, `/v1/payments/${paymentId}/ledger`);
    expect(ledger.body.data.map((t) => ({ kind: t.kind, entries: t.entries }))).toEqual([
      { kind: 'capture', entries: captureEntries(1000) },
      { kind: 'refund', entries: refundEntries(400) },
      { kind: 'refund', entries: refundEntries(600) },
    ]);
    expect(await balances(shop)).toEqual({ psp_receivable: 0, merchant_payable: 0 });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });

  it('keeps a captured payment captured when payment_intent.payment_failed arrives after it', async () => {
    const shop = await aShop();
    const pi = 'pi_failed_late_0001';
    const captured = await processInboundEvent(deps, {
      inboundEventId: await ingest(shop, stripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 2000 })),
    });
    const paymentId = (captured as { paymentId: string }).paymentId;
    const before = await counts(shop.merchantId);

    const failed = await ingest(shop, stripeEvent('payment_intent.payment_failed', { paymentIntent: pi, amount: 2000 }));
    expect(await processInboundEvent(deps, { inboundEventId: failed })).toEqual({ result: 'stale', paymentId });
    expect((await getJson(shop, `/v1/payments/${paymentId}`)).body).toMatchObject({ status: 'captured', capturedAmount: 2000 });
    expect(await counts(shop.merchantId)).toEqual(before);
    expect(await inboundRow(failed)).toMatchObject({ status: 'processed', payment_id: paymentId });
    const [mark] = await db.sql<{ stale: boolean }[]>`select stale from gw.inbound_events where id = ${failed}`;
    expect(mark!.stale).toBe(true);
    // and the merchant sees the mark: stale on the late event, not on the one that applied
    expect((await getJson(shop, `/v1/inbound-events/${failed}`)).body).toMatchObject({ status: 'processed', stale: true });
    const list = await getJson<{ data: { id: string; stale: boolean }[] }>(shop, '/v1/inbound-events');
    expect(list.body.data.map((e) => e.stale)).toEqual([true, false]);
    const [applied] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from gw.inbound_events where payment_id = ${paymentId} and not stale`;
    expect(applied!.n).toBe(1);
  });

  it('marks an event failed with a reason, and applies nothing, when its amount is beyond Number.MAX_SAFE_INTEGER minor units', async () => {
    const shop = await aShop();
    const event = stripeEvent('payment_intent.succeeded', { amount: 2000 });
    const object = (event.data as { object: Record<string, unknown> }).object;
    const body = JSON.stringify(event)
      .replace(`"amount":2000`, `"amount":${'9'.repeat(30)}`)
      .replace(`"amount_received":2000`, `"amount_received":${'9'.repeat(30)}`);
    expect(body).toContain('9'.repeat(30));
    const iev = await ingest(shop, JSON.parse(body) as Record<string, unknown>);
    const outcome = await processInboundEvent(deps, { inboundEventId: iev });
    expect(outcome).toEqual({ result: 'failed', reason: expect.stringContaining('payment_intent') });
    expect(await inboundRow(iev)).toMatchObject({ status: 'failed', payment_id: null, error: expect.any(String) });
    expect(await counts(shop.merchantId)).toMatchObject({ payments: 0, ledgerTransactions: 0 });
    expect(object.id).toMatch(/^pi_/);
  });

  it('marks an unmapped Stripe event type ignored and creates no payment', async () => {
    const shop = await aShop();
    const event = {
      ...stripeEvent('payment_intent.succeeded', {}),
      type: 'customer.created',
      data: { object: { id: 'cus_ignored_0001', object: 'customer', email: 'jo@example.com', metadata: {} } },
    };
    const iev = await ingest(shop, event);
    const outcome = await processInboundEvent(deps, { inboundEventId: iev });
    expect(outcome).toEqual({ result: 'ignored', reason: expect.stringContaining('customer.created') });
    expect(await inboundRow(iev)).toMatchObject({ status: 'ignored', payment_id: null, processed_at: NOW });
    expect(await counts(shop.merchantId)).toEqual({
      payments: 0,
      transitions: 0,
      ledgerTransactions: 0,
      ledgerEntries: 0,
      events: 0,
      messages: 0,
      deliverJobs: 0,
    });
    expect(await processInboundEvent(deps, { inboundEventId: iev })).toEqual({ result: 'already_processed' });
  });
});

describe('GET /v1/payments/{id}', () => {
  it("answers 404 not_found for another merchant's payment, its transitions and its ledger", async () => {
    const owner = await aShop('Owner');
    const other = await aShop('Other');
    const outcome = await processInboundEvent(deps, {
      inboundEventId: await ingest(owner, stripeEvent('payment_intent.succeeded', { amount: 2000 })),
    });
    const paymentId = (outcome as { paymentId: string }).paymentId;
    expect((await getJson(owner, `/v1/payments/${paymentId}`)).status).toBe(200);

    for (const path of [`/v1/payments/${paymentId}`, `/v1/payments/${paymentId}/transitions`, `/v1/payments/${paymentId}/ledger`]) {
      const res = await app.request(path, { headers: { authorization: `Bearer ${other.apiKey}` } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 404, code: 'not_found' });
    }
    const list = await getJson<{ data: unknown[]; hasMore: boolean }>(other, '/v1/payments');
    expect(list.body).toEqual({ data: [], hasMore: false });
  });
});

describe('processInboundEvent on Adyen operations', () => {
  async function anAdyenShop(): Promise<Shop> {
    const m = await aMerchant(deps, 'Adyen shop');
    const res = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'adyen', secret: 'CD91938D295110C8612215C33FA8EF8A7D730E035C5F8DAB9B8D546DE7C26F1D' }, m.apiKey),
    );
    expect(res.status).toBe(201);
    return { merchantId: m.id, apiKey: m.apiKey, sourceId: ((await res.json()) as { id: string }).id };
  }
  let n = 0;
  async function apply(shop: Shop, item: Record<string, unknown>): Promise<ProcessOutcome> {
    n += 1;
    const body = new TextEncoder().encode(JSON.stringify({ success: 'true', merchantReference: 'order-1', ...item }));
    const { id } = await db.sql.begin((tx) =>
      recordInboundEvent(tx, {
        sourceId: shop.sourceId,
        merchantId: shop.merchantId,
        eventId: `adyen-${n}`,
        eventType: item.eventCode as string,
        rawBody: body,
        headers: {},
      }),
    );
    return processInboundEvent(deps, { inboundEventId: id });
  }
  const usd = (value: number) => ({ value, currency: 'USD' });

  it('sums two partial captures, reverses one that failed, and records and flags a refund beyond the captured amount', async () => {
    const shop = await anAdyenShop();
    const auth = await apply(shop, { eventCode: 'AUTHORISATION', pspReference: 'PAY1', amount: usd(1000) });
    const paymentId = (auth as { paymentId: string }).paymentId;
    await apply(shop, { eventCode: 'CAPTURE', pspReference: 'CAP1', originalReference: 'PAY1', amount: usd(600) });
    await apply(shop, { eventCode: 'CAPTURE', pspReference: 'CAP2', originalReference: 'PAY1', amount: usd(400) });
    expect(
      await apply(shop, { eventCode: 'CAPTURE_FAILED', pspReference: 'CAP2', originalReference: 'PAY1', amount: usd(400) }),
    ).toMatchObject({
      result: 'applied',
      postings: 1,
    });
    await apply(shop, { eventCode: 'REFUND', pspReference: 'REF1', originalReference: 'PAY1', amount: usd(500) });
    await apply(shop, { eventCode: 'REFUND', pspReference: 'REF2', originalReference: 'PAY1', amount: usd(300) });

    const { body } = await getJson<Record<string, unknown> & { operations: Record<string, unknown>[] }>(shop, `/v1/payments/${paymentId}`);
    expect(body).toMatchObject({
      status: 'refunded',
      amount: 1000,
      capturedAmount: 600,
      refundedAmount: 600,
      overRefundedAmount: 200,
      flags: ['over_refund'],
    });
    expect(body.operations.map((o) => [o.kind, o.pspReference, o.amount, o.outcome])).toEqual([
      ['authorization', 'PAY1', 1000, 'succeeded'],
      ['capture', 'CAP1', 600, 'succeeded'],
      ['capture', 'CAP2', 400, 'failed'],
      ['refund', 'REF1', 500, 'succeeded'],
      ['refund', 'REF2', 300, 'flagged'],
    ]);
    expect(body.operations[4]).toMatchObject({
      flagReason: expect.stringContaining('over_refund'),
      history: [{ outcome: 'succeeded', amount: 300 }],
    });
    expect(body.operations[2]!.history).toEqual([
      { outcome: 'succeeded', amount: 400, cause: expect.stringMatching(/^iev_/), at: AT },
      { outcome: 'failed', amount: 400, cause: expect.stringMatching(/^iev_/), at: AT },
    ]);

    const ledger = await getJson<{ data: LedgerTx[] }>(shop, `/v1/payments/${paymentId}/ledger`);
    expect(ledger.body.data.map((t) => [t.kind, t.entries[0]!.amount])).toEqual([
      ['capture', 600],
      ['capture', 400],
      ['capture_reversal', 400],
      ['refund', 500],
      ['refund', 100],
    ]);
    expect(await balances(shop)).toEqual({ psp_receivable: 0, merchant_payable: 0 });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });

  it('opens a dispute (payment.disputed), loses it (dispute_loss posting, payment.charged_back), and has it reversed (payment.dispute_won)', async () => {
    const shop = await anAdyenShop();
    await anEndpoint(shop, {});
    const cap = await apply(shop, { eventCode: 'CAPTURE', pspReference: 'CAP1', originalReference: 'PAY2', amount: usd(1000) });
    const paymentId = (cap as { paymentId: string }).paymentId;
    await apply(shop, { eventCode: 'NOTIFICATION_OF_CHARGEBACK', pspReference: 'DSP1', originalReference: 'PAY2', amount: usd(1000) });
    expect((await getJson(shop, `/v1/payments/${paymentId}`)).body).toMatchObject({ status: 'disputed' });
    await apply(shop, { eventCode: 'CHARGEBACK', pspReference: 'DSP1', originalReference: 'PAY2', amount: usd(1000) });
    expect((await getJson(shop, `/v1/payments/${paymentId}`)).body).toMatchObject({ status: 'charged_back', chargedBackAmount: 1000 });
    expect(await balances(shop)).toEqual({ psp_receivable: 0, merchant_payable: 0 });
    await apply(shop, { eventCode: 'CHARGEBACK_REVERSED', pspReference: 'DSP1', originalReference: 'PAY2', amount: usd(1000) });
    expect((await getJson(shop, `/v1/payments/${paymentId}`)).body).toMatchObject({ status: 'captured', chargedBackAmount: 0 });
    expect(await balances(shop)).toEqual({ psp_receivable: 1000, merchant_payable: -1000 });

    const types = await db.sql<{ type: string }[]>`select type from gw.events where payment_id = ${paymentId} order by id`;
    expect(types.map((t) => t.type)).toEqual([
      'payment.authorized',
      'payment.captured',
      'payment.disputed',
      'payment.charged_back',
      'payment.dispute_won',
    ]);
    const transitions = await getJson<{ data: { from: string | null; to: string }[] }>(shop, `/v1/payments/${paymentId}/transitions`);
    expect(transitions.body.data.map((t) => `${t.from}→${t.to}`)).toEqual([
      'null→pending',
      'pending→authorized',
      'authorized→captured',
      'captured→disputed',
      'disputed→charged_back',
      'charged_back→captured',
    ]);
    const ledger = await getJson<{ data: LedgerTx[] }>(shop, `/v1/payments/${paymentId}/ledger`);
    expect(ledger.body.data.map((t) => t.kind)).toEqual(['capture', 'dispute_loss', 'dispute_loss_reversal']);
    expect(ledger.body.data[1]!.entries).toEqual(refundEntries(1000));
  });
});

describe('processInboundEvents on the job of one ingest batch', () => {
  it('applies a whole batch in one call; when one event fails on a database error, every other event is still processed, then the error is thrown for a retry', async () => {
    const shop = await aShop('Batch');
    const ids = [];
    for (const pi of ['pi_batch_a', 'pi_batch_b', 'pi_batch_c']) {
      ids.push(await ingest(shop, stripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 700 })));
    }
    const poison = ids[1]!;
    // A database error on the poison event only: marking it processed fails.
    await db.sql.unsafe(`
      create function pg_temp_poison() returns trigger language plpgsql as $$
      begin
        if new.id = '${poison}' then raise exception 'poisoned inbound event %', new.id; end if;
        return new;
      end $$;
      create trigger poison before update on gw.inbound_events for each row execute function pg_temp_poison();`);
    try {
      await expect(processInboundEvents(deps, ids)).rejects.toThrow(/poisoned inbound event/);
      expect((await inboundRow(ids[0]!)).status).toBe('processed');
      expect((await inboundRow(poison)).status).toBe('received');
      expect((await inboundRow(ids[2]!)).status).toBe('processed');
    } finally {
      await db.sql.unsafe(`drop trigger poison on gw.inbound_events; drop function pg_temp_poison();`);
    }

    // graphile-worker runs the job again: the poison event now applies, the others are left alone.
    const again = await processInboundEvents(deps, ids);
    expect(again.map((o) => o.result)).toEqual(['already_processed', 'applied', 'already_processed']);
    expect(await counts(shop.merchantId)).toMatchObject({ payments: 3, ledgerTransactions: 3 });
    expect((await ledgerCheck(shop)).balanced).toBe(true);
  });

  it('marks failed, with the reason the database gave, an event whose own data PostgreSQL refuses (a NUL in the payment id), and processes another merchant’s event of the same job', async () => {
    const poisoner = await aShop('Poisoner');
    const honest = await aShop('Honest');
    const poison = await ingest(poisoner, stripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_nul\u0000x', amount: 900 }));
    const genuine = await ingest(honest, stripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_honest_1', amount: 900 }));
    const outcomes = await processInboundEvents(deps, [poison, genuine]);
    expect(outcomes.map((o) => o.result)).toEqual(['failed', 'applied']);
    const row = await inboundRow(poison);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/^PostgreSQL refused the event's data: .*\(22021\)$/);
    // A retry of the job finds both done: nothing is retried for ever.
    expect((await processInboundEvents(deps, [poison, genuine])).map((o) => o.result)).toEqual(['already_processed', 'already_processed']);
    expect(await counts(poisoner.merchantId)).toMatchObject({ payments: 0, ledgerTransactions: 0 });
    expect(await counts(honest.merchantId)).toMatchObject({ payments: 1, ledgerTransactions: 1 });
  });
});
