// Operational webhooks (sql/0063_operator_events.sql, src/outbound/operator-webhook.task.ts): the operator's URL, a
// real receiver, gets endpoint.disabled, endpoint.circuit_opened, endpoint.recovered, ledger.imbalance and
// inbound.source_failing for every merchant, signed as merchant deliveries are; merchants keep their own.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunner } from '../../src/app/worker.js';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { deliverOperatorEvent, OperatorWebhookFailed } from '../../src/outbound/operator-webhook.task.js';
import { checkMerchantLedger } from '../../src/reconciliation/ledger-check.task.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';
import { recordInboundEvent } from '../record-inbound-event.js';
import { receiversClosedAfterEach, startReceiver, type Receiver } from '../receiver.js';

const OPERATOR_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

let db: TestDatabase;
let operator: Receiver;
let operatorStatus = 200;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  operator = await startReceiver(() => operatorStatus);
  deps = await testDeps(db, {
    env: {
      SWITCHYARD_OPERATOR_WEBHOOK_URL: operator.url,
      SWITCHYARD_OPERATOR_WEBHOOK_SECRET: OPERATOR_SECRET,
      SWITCHYARD_CIRCUIT_FAILURES: '2',
      SWITCHYARD_SOURCE_FAILING_MIN_REQUESTS: '4',
      SWITCHYARD_SOURCE_FAILING_RATE: '0.5',
    },
  });
});
afterAll(async () => {
  await operator.close();
  await db.drop();
});

const receiver = receiversClosedAfterEach();

async function endpointOf(apiKey: string, url: string): Promise<string> {
  const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url }, apiKey));
  return ((await res.json()) as { id: string }).id;
}

async function operatorEvents(merchantId: string) {
  return db.sql<{ id: string; type: string; status: string; attempts: number }[]>`
    select id, type, status, attempts from gw.operator_events where merchant_id = ${merchantId} order by id`;
}

/** What the operator receiver got, verified with the operator's secret as the `standardwebhooks` package does. */
function verifiedAtOperator(): { id: string; type: string; data: Record<string, unknown> }[] {
  const wh = new Webhook(OPERATOR_SECRET);
  return operator.received.map((r) => {
    const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
    const body = wh.verify(r.body.toString('utf8'), headers) as { type: string; data: Record<string, unknown> };
    return { id: headers['webhook-id']!, type: body.type, data: body.data };
  });
}

let n = 0;
const emitTo = async (merchantId: string) =>
  (await emitEvent(db.sql, {
    merchantId,
    type: 'payment.captured',
    paymentId: null,
    dedupeKey: `operator-${++n}`,
    data: { n },
    at: new Date(),
  }))!.messageIds;

describe('operational webhooks', () => {
  it('send endpoint.disabled to the operator after a 410, signed; the merchant still gets its own on its other endpoint', async () => {
    const gone = await receiver(() => 410);
    const other = await receiver();
    const m = await aMerchant(deps);
    const goneId = await endpointOf(m.apiKey, gone.url);
    await endpointOf(m.apiKey, other.url);
    const before = operator.received.length;
    const [toGone] = (await emitTo(m.id)).sort();
    const messages = await db.sql<
      { id: string; endpoint_id: string }[]
    >`select id, endpoint_id from gw.messages where merchant_id = ${m.id}`;
    await deliverMessage(deps, { messageId: messages.find((x) => x.endpoint_id === goneId)!.id, attempt: 1 });
    expect(toGone).toBeDefined();

    const runner = await startRunner(deps, { connectionString: db.url, concurrency: 2, pollIntervalMs: 100 });
    try {
      await operator.waitFor(before + 1);
      await eventually(async () => (other.received.some((r) => r.body.toString().includes('endpoint.disabled')) ? true : undefined));
    } finally {
      await runner.stop();
    }
    const got = verifiedAtOperator().slice(before);
    expect(got).toEqual([
      {
        id: expect.stringMatching(/^oev_/),
        type: 'endpoint.disabled',
        data: expect.objectContaining({
          merchantId: m.id,
          endpointId: goneId,
          reason: 'the endpoint answered 410 Gone',
          url: new URL(gone.url).origin,
        }),
      },
    ]);
    expect(await operatorEvents(m.id)).toMatchObject([{ type: 'endpoint.disabled', status: 'delivered', attempts: 1 }]);
  });

  it('send endpoint.circuit_opened when failures open the circuit and endpoint.recovered when the probe succeeds', async () => {
    const flaky = await receiver((i) => (i < 2 ? 500 : 200));
    const m = await aMerchant(deps);
    const ep = await endpointOf(m.apiKey, flaky.url);
    const [messageId] = await emitTo(m.id);
    await deliverMessage(deps, { messageId: messageId!, attempt: 1 });
    await deliverMessage(deps, { messageId: messageId!, attempt: 2 });
    expect((await operatorEvents(m.id)).map((e) => e.type)).toEqual(['endpoint.circuit_opened']);
    await db.sql`update gw.endpoints set circuit_open_until = now() - interval '1 second' where id = ${ep}`; // the cool-down passed
    await deliverMessage(deps, { messageId: messageId!, attempt: 3 });
    const events = await operatorEvents(m.id);
    expect(events.map((e) => e.type)).toEqual(['endpoint.circuit_opened', 'endpoint.recovered']);

    const before = operator.received.length;
    for (const e of events) await deliverOperatorEvent(deps, { operatorEventId: e.id });
    expect(verifiedAtOperator().slice(before)).toEqual([
      expect.objectContaining({ type: 'endpoint.circuit_opened', data: expect.objectContaining({ merchantId: m.id, endpointId: ep }) }),
      expect.objectContaining({ type: 'endpoint.recovered', data: expect.objectContaining({ merchantId: m.id, endpointId: ep }) }),
    ]);
  });

  it('send ledger.imbalance once per merchant and hour when a ledger check finds the ledger unbalanced', async () => {
    const m = await aMerchant(deps);
    const app = testApp(deps);
    const src = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: 'whsec_operator0123456789abcdefXYZ' }, m.apiKey),
    );
    const sourceId = ((await src.json()) as { id: string }).id;
    const event = buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_operator', amount: 1000, currency: 'eur' });
    const stored = await db.sql.begin((tx) =>
      recordInboundEvent(tx, {
        sourceId,
        merchantId: m.id,
        eventId: event.id as string,
        eventType: event.type as string,
        rawBody: new TextEncoder().encode(JSON.stringify(event)),
        headers: {},
      }),
    );
    await processInboundEvent(deps, { inboundEventId: stored.id });
    const check = () => app.request('/v1/ledger/check', { headers: { authorization: `Bearer ${m.apiKey}` } });
    expect(await (await check()).json()).toMatchObject({ balanced: true });
    expect(await operatorEvents(m.id)).toEqual([]);
    await db.sql`update gw.ledger_accounts set balance = balance + 1 where id = (select min(id) from gw.ledger_accounts where merchant_id = ${m.id})`;
    expect(await (await check()).json()).toMatchObject({ balanced: false });
    await check();
    const events = await operatorEvents(m.id);
    expect(events.map((e) => e.type)).toEqual(['ledger.imbalance']);
    const before = operator.received.length;
    await deliverOperatorEvent(deps, { operatorEventId: events[0]!.id });
    expect(verifiedAtOperator().slice(before)[0]).toMatchObject({
      type: 'ledger.imbalance',
      data: { merchantId: m.id, balanced: false, driftedAccounts: [expect.any(Object)] },
    });
  });

  it('send the continuous ledger check’s ledger.imbalance to the operator too, once per merchant and hour', async () => {
    const m = await aMerchant(deps);
    const app = testApp(deps);
    const src = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: 'whsec_operatorcheck0123456789abcdef' }, m.apiKey),
    );
    const sourceId = ((await src.json()) as { id: string }).id;
    const event = buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_operator_check', amount: 1000, currency: 'eur' });
    const stored = await db.sql.begin((tx) =>
      recordInboundEvent(tx, {
        sourceId,
        merchantId: m.id,
        eventId: event.id as string,
        eventType: event.type as string,
        rawBody: new TextEncoder().encode(JSON.stringify(event)),
        headers: {},
      }),
    );
    await processInboundEvent(deps, { inboundEventId: stored.id });
    expect((await checkMerchantLedger(deps, m.id)).status).toBe('passed');
    expect(await operatorEvents(m.id)).toEqual([]);
    await db.sql`update gw.ledger_accounts set balance = balance + 1 where id = (select min(id) from gw.ledger_accounts where merchant_id = ${m.id})`;
    const failed = await checkMerchantLedger(deps, m.id);
    expect(failed.status).toBe('failed');
    expect((await checkMerchantLedger(deps, m.id)).status).toBe('failed');
    const events = await operatorEvents(m.id);
    expect(events.map((e) => e.type)).toEqual(['ledger.imbalance']);
    const before = operator.received.length;
    await deliverOperatorEvent(deps, { operatorEventId: events[0]!.id });
    expect(verifiedAtOperator().slice(before)[0]).toMatchObject({
      type: 'ledger.imbalance',
      data: { merchantId: m.id, id: failed.id, status: 'failed', problems: [expect.objectContaining({ problem: 'balance_drift' })] },
    });
    // the merchant's own endpoints get theirs for each failed check, as before
    const [{ n: merchantEvents }] = (await db.sql`
      select count(*)::int as n from gw.events where merchant_id = ${m.id} and type = 'ledger.imbalance'`) as unknown as [{ n: number }];
    expect(merchantEvents).toBe(2);
  });

  it('send inbound.source_failing once when a source’s requests fail verification at the configured rate', async () => {
    const m = await aMerchant(deps);
    const app = testApp(deps);
    const secret = 'whsec_sourcefailing0123456789abcdef';
    const src = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret }, m.apiKey));
    const sourceId = ((await src.json()) as { id: string }).id;
    const post = async (signWith: string) => {
      const body = JSON.stringify(
        buildStripeEvent('payment_intent.succeeded', { paymentIntent: `pi_f${++n}`, amount: 100, currency: 'eur' }),
      );
      return app.request(`/inbound/${sourceId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, signWith, new Date()) },
        body,
      });
    };
    expect((await post(secret)).status).toBe(200);
    expect((await post('whsec_rotated_at_the_psp_0123456789')).status).toBe(401);
    expect((await post('whsec_rotated_at_the_psp_0123456789')).status).toBe(401);
    expect(await operatorEvents(m.id)).toEqual([]); // 3 requests: below the minimum
    expect((await post('whsec_rotated_at_the_psp_0123456789')).status).toBe(401);
    expect((await post('whsec_rotated_at_the_psp_0123456789')).status).toBe(401);
    const [alert] = await eventually(async () => {
      const rows = await operatorEvents(m.id);
      return rows.length > 0 ? rows : undefined;
    });
    expect(alert!.type).toBe('inbound.source_failing');
    expect(await operatorEvents(m.id)).toHaveLength(1);
    const before = operator.received.length;
    await deliverOperatorEvent(deps, { operatorEventId: alert!.id });
    expect(verifiedAtOperator().slice(before)[0]).toMatchObject({
      type: 'inbound.source_failing',
      data: { merchantId: m.id, sourceId, provider: 'stripe', requests: 4, failures: 3, failureRate: 0.75 },
    });
  });

  it('retry a failing operator URL through graphile-worker and record the event failed after the last attempt', async () => {
    const m = await aMerchant(deps);
    const gone = await receiver(() => 410);
    await endpointOf(m.apiKey, gone.url);
    const [messageId] = await emitTo(m.id);
    await deliverMessage(deps, { messageId: messageId!, attempt: 1 });
    const [event] = await operatorEvents(m.id);
    operatorStatus = 503;
    try {
      await expect(deliverOperatorEvent(deps, { operatorEventId: event!.id }, 1, 2)).rejects.toBeInstanceOf(OperatorWebhookFailed);
      expect(await operatorEvents(m.id)).toMatchObject([{ status: 'pending', attempts: 1 }]);
      await deliverOperatorEvent(deps, { operatorEventId: event!.id }, 2, 2);
      expect(await operatorEvents(m.id)).toMatchObject([{ status: 'failed', attempts: 2 }]);
    } finally {
      operatorStatus = 200;
    }
  });

  it('are not stored when no operator URL is set', async () => {
    const quiet = { ...(await testDeps(db)), secretBox: deps.secretBox };
    const m = await aMerchant(quiet);
    const gone = await receiver(() => 410);
    await testApp(quiet).request('/v1/endpoints', jsonRequest('POST', { url: gone.url }, m.apiKey));
    const [messageId] = await emitTo(m.id);
    await deliverMessage(quiet, { messageId: messageId!, attempt: 1 });
    const [ep] = await db.sql<{ status: string }[]>`select status from gw.endpoints where merchant_id = ${m.id}`;
    expect(ep!.status).toBe('disabled');
    expect(await operatorEvents(m.id)).toEqual([]);
  });
});
