import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { MAX_UNRESOLVED_SYNCS, syncPspOperation, syncStalePspOperations } from '../../src/payments-api/sync.task.js';
import { stripeSimulator, type StripeSimulator } from '../../src/dev/simulators/index.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { testDeps } from '../app.js';
import { aShop, apps, command, commandOptions, getJson, ledgerOf, processReceived, STRIPE_BASE, type Shop } from './harness.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';

const SECRET = 'whsec_payments_api_stripe_0123456789';
const SK = 'sk_test_simulated_0123456789';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof apps>['app'];
let commands: ReturnType<typeof apps>['commands'];
const server = setupServer();
/** PSP calls per scenario, for the closing note (printed once at the end). */
const pspCalls: Record<string, { calls: number; effects: number; answers?: string }> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  ({ app, commands } = apps(deps));
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  console.info('PSP calls per scenario (calls / effects):', JSON.stringify(pspCalls));
  // Every event the payments API flows emitted is valid against the published event catalogue.
  await expectEventsMatchCatalogue(db.sql);
  await db.drop();
});

/** A shop with a Stripe source and a simulator posting its webhooks through the real inbound route (held until flushed). */
async function stripeShop({
  latencyMs,
  ...webhooks
}: {
  duplicate?: boolean;
  reverse?: boolean;
  latencyMs?: number;
} = {}): Promise<{ shop: Shop; sim: StripeSimulator }> {
  const shop = await aShop(deps, app, { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
  const sim = stripeSimulator({
    baseUrl: STRIPE_BASE,
    apiKey: SK,
    ...(latencyMs ? { latencyMs } : {}),
    webhooks: { url: shop.inboundUrl, secret: SECRET, delivery: 'manual', send: async (r) => app.request(r), ...webhooks },
  });
  server.use(...sim.handlers);
  return { shop, sim };
}

const record = (scenario: string, sim: StripeSimulator) => {
  pspCalls[scenario] = { calls: sim.calls.length, effects: sim.calls.filter((c) => !c.replayed).length };
};

const createBody = (shop: Shop, extra: Record<string, unknown> = {}) => ({
  amount: 2000,
  currency: 'usd',
  sourceId: shop.sourceId,
  merchantReference: 'order-1',
  paymentMethod: 'pm_card_visa',
  ...extra,
});

async function paymentsOf(merchantId: string) {
  return db.sql<{ id: string; status: string; psp_reference: string; captured_amount: string; refunded_amount: string }[]>`
    select id, status, psp_reference, captured_amount::text, refunded_amount::text from gw.payments where merchant_id = ${merchantId}`;
}

describe('POST /v1/payments through the Stripe simulator', () => {
  it('creates a captured payment; the webhook that follows changes nothing and the ledger balances', async () => {
    const { shop, sim } = await stripeShop();
    const res = await commands.request(
      '/v1/payments',
      command(shop, 'create-1', createBody(shop, { customer: { email: 'ada@example.com' }, metadata: { cart: '42' } })),
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ status: 'captured', amount: 2000, currency: 'USD', capturedAmount: 2000, merchantReference: 'order-1' });
    expect(body.pspReference).toMatch(/^pi_/);
    expect(body.operation).toMatchObject({ kind: 'create', status: 'succeeded' });
    // what reached "Stripe": one call, with the derived key, the reference in metadata
    expect(sim.calls).toHaveLength(1);
    expect(sim.calls[0]!.idempotencyKey).toMatch(/^[0-9a-f]{64}$/);
    expect(sim.paymentIntents.get(body.pspReference)!.metadata).toMatchObject({ merchant_reference: 'order-1', cart: '42' });

    expect(sim.webhooks.pending).toBe(1);
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['stale']);
    const payment = await getJson(app, shop, `/v1/payments/${body.id}`);
    expect(payment).toMatchObject({ status: 'captured', capturedAmount: 2000 });
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([{ kind: 'capture', amount: '2000' }]);
    const check = await getJson<{ balanced: boolean }>(app, shop, '/v1/ledger/check');
    expect(check.balanced).toBe(true);
    record('create → webhook → captured', sim);
  });

  it('runs the same request sent 10 times at once exactly once: one PSP call, one payment', async () => {
    const { shop, sim } = await stripeShop({ latencyMs: 100 });
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => commands.request('/v1/payments', command(shop, 'parallel-1', createBody(shop)))),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    for (const r of responses.filter((r) => r.status === 409)) {
      expect(await r.json()).toMatchObject({ code: 'idempotency_key_in_progress', status: 409 });
    }
    expect(sim.calls).toHaveLength(1);
    expect(await paymentsOf(shop.merchantId)).toHaveLength(1);

    const again = await commands.request('/v1/payments', command(shop, 'parallel-1', createBody(shop)));
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const first = await responses.find((r) => r.status === 201)!.json();
    expect(await again.json()).toEqual(first);
    expect(sim.calls).toHaveLength(1);
    record('10 parallel requests, one key', sim);
    pspCalls['10 parallel requests, one key']!.answers = statuses.join(',');
  });

  it('answers 422 idempotency_key_reused to a different request with the same key, without calling Stripe', async () => {
    const { shop, sim } = await stripeShop();
    expect((await commands.request('/v1/payments', command(shop, 'reuse-1', createBody(shop)))).status).toBe(201);
    const res = await commands.request('/v1/payments', command(shop, 'reuse-1', createBody(shop, { amount: 2500 })));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'idempotency_key_reused' });
    // same body with keys in another order is the same request
    const reordered = await commands.request(
      '/v1/payments',
      command(shop, 'reuse-1', Object.fromEntries(Object.entries(createBody(shop)).reverse())),
    );
    expect(reordered.status).toBe(201);
    expect(reordered.headers.get('idempotent-replayed')).toBe('true');
    expect(sim.calls).toHaveLength(1);
    record('different body, same key', sim);
  });

  it('requires an Idempotency-Key and does not store a request that failed validation', async () => {
    const { shop, sim } = await stripeShop();
    const missing = await commands.request('/v1/payments', command(shop, null, createBody(shop)));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ code: 'idempotency_key_missing' });
    const tooLong = await commands.request('/v1/payments', command(shop, 'k'.repeat(256), createBody(shop)));
    expect(tooLong.status).toBe(400);

    const invalid = await commands.request('/v1/payments', command(shop, 'fix-me', createBody(shop, { amount: 12.5 })));
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ code: 'invalid_request' });
    const corrected = await commands.request('/v1/payments', command(shop, 'fix-me', createBody(shop)));
    expect(corrected.status).toBe(201);
    expect(corrected.headers.get('idempotent-replayed')).toBeNull();
    expect(sim.calls).toHaveLength(1);
  });

  it("keeps a payment pending when Stripe times out; Stripe's webhook, naming the operation in the PaymentIntent's metadata, settles it before the status sync", async () => {
    const { shop, sim } = await stripeShop();
    sim.failNext({ mode: 'timeout', delayMs: 1500 }); // Stripe creates and captures, but answers too late
    const res = await commands.request('/v1/payments', command(shop, 'timeout-1', createBody(shop)));
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ status: 'pending', capturedAmount: 0, operation: { status: 'pending' } });
    expect(body.pspReference).toMatch(/^pending:pop_/);
    const [job] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from graphile_worker.jobs where task_identifier = 'sync_psp_operation'`;
    expect(job!.n).toBe(1);
    const [pi] = [...sim.paymentIntents.values()];
    expect(pi!.metadata).toMatchObject({ switchyard_op: body.operation.id });

    // Stripe's webhook arrives before the sync: it names the operation, so it lands on that payment
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    expect(await paymentsOf(shop.merchantId)).toHaveLength(1);
    const linked = await getJson(app, shop, `/v1/payments/${body.id}`);
    expect(linked).toMatchObject({ status: 'captured', capturedAmount: 2000, pspReference: pi!.id });

    // the sync then finds it settled and changes nothing
    expect(await syncPspOperation(deps, { operationId: body.operation.id }, commandOptions)).toBe('settled');
    expect(await getJson(app, shop, `/v1/payments/${body.id}`)).toMatchObject({
      status: 'captured',
      capturedAmount: 2000,
      pspReference: pi!.id,
    });
    expect(await paymentsOf(shop.merchantId)).toHaveLength(1);
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([{ kind: 'capture', amount: '2000' }]);
    // the PSP acted once: the re-send was answered from Stripe's idempotency cache
    expect(sim.calls.map((c) => c.replayed)).toEqual([false, true]);
    const replay = await commands.request('/v1/payments', command(shop, 'timeout-1', createBody(shop)));
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    record('PSP timeout → pending → webhook → synced', sim);
  });

  it('holds a webhook of a payment that could be the pending one (same source, currency and amount, no operation named) until the status sync, then records it as its own payment', async () => {
    const { shop, sim } = await stripeShop();
    sim.failNext({ mode: 'timeout', delayMs: 1500 });
    const res = await commands.request('/v1/payments', command(shop, 'timeout-2', createBody(shop)));
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, any>;

    // A PaymentIntent of the same amount made elsewhere (the Dashboard): its webhook names no operation
    const other = buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_made_elsewhere_1', amount: 2000 });
    const raw = JSON.stringify(other);
    const posted = await app.request(shop.inboundUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(raw, SECRET, deps.clock()) },
      body: raw,
    });
    expect(posted.status).toBe(200);
    const held = await processReceived(deps, shop.sourceId);
    expect(held).toHaveLength(1);
    expect(held[0]).toBeInstanceOf(Error); // graphile-worker retries it
    expect(await paymentsOf(shop.merchantId)).toHaveLength(1);

    expect(await syncPspOperation(deps, { operationId: body.operation.id }, commandOptions)).toBe('settled');
    expect((await getJson(app, shop, `/v1/payments/${body.id}`)).pspReference).toMatch(/^pi_/);
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    const payments = await paymentsOf(shop.merchantId);
    expect(payments).toHaveLength(2);
    await sim.webhooks.flush(); // the API payment's own webhook: already settled by the sync
    expect(await processReceived(deps, shop.sourceId)).toEqual(['stale']);
    record('PSP timeout → pending → synced', sim);
  });

  it('queues a sync for every operation left unresolved longer than the configured time (the cron task)', async () => {
    const { shop, sim } = await stripeShop();
    sim.failNext({ mode: 'timeout', afterEffect: false, delayMs: 1000 }); // Stripe never saw it
    const res = await commands.request('/v1/payments', command(shop, 'stale-op-1', createBody(shop)));
    expect(res.status).toBe(202);
    const { operation } = (await res.json()) as { operation: { id: string } };
    await db.sql`select graphile_worker.remove_job(${`psp-sync:${operation.id}`})`;
    expect(await syncStalePspOperations(deps, 60)).toBe(0);
    const later: Deps = { ...deps, clock: () => new Date(Date.now() + 61_000) };
    expect(await syncStalePspOperations(later, 60)).toBeGreaterThanOrEqual(1);
    const jobs = await db.sql<{ key: string }[]>`
      select key from graphile_worker.jobs where task_identifier = 'sync_psp_operation'`;
    expect(jobs.map((j) => j.key)).toContain(`psp-sync:${operation.id}`);
    // the sync sends the create again with the same PSP key: Stripe creates it now, once
    expect(await syncPspOperation(deps, { operationId: operation.id }, commandOptions)).toBe('settled');
    expect(sim.calls.map((c) => c.replayed)).toEqual([false, false]);
    expect(sim.paymentIntents.size).toBe(1);
    const payments = await paymentsOf(shop.merchantId);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'captured', captured_amount: '2000' });
    record('PSP never saw it (timeout before effect) → cron sync → created once', sim);
  });

  it('keeps a capture that Stripe answered 500 pending: the re-send gets the stored 500 and the fetched PaymentIntent shows nothing captured', async () => {
    const { shop, sim } = await stripeShop();
    const created = (await (
      await commands.request('/v1/payments', command(shop, 'm-1', createBody(shop, { captureMethod: 'manual' })))
    ).json()) as Record<string, any>;
    expect(created.status).toBe('authorized');
    sim.failNext({ mode: 'server_error' });
    const res = await commands.request(`/v1/payments/${created.id}/capture`, command(shop, 'm-1-capture', {}));
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: 'authorized', operation: { kind: 'capture', status: 'pending' } });
    const op = (await db.sql<{ id: string }[]>`select id from gw.psp_operations where payment_id = ${created.id} and kind = 'capture'`)[0]!;
    // the 500 is stored under the key at Stripe, so the re-send gets it again; nothing was captured
    expect(await syncPspOperation(deps, { operationId: op.id }, commandOptions)).toBe('still_unknown');
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({ status: 'authorized' });
    record('PSP 500 on capture → pending', sim);

    // the cron backs off: 60 s after the first sync nothing is due, 120 s after it is
    const [touched] = await db.sql<{ updated_at: Date }[]>`select updated_at from gw.psp_operations where id = ${op.id}`;
    const at = (s: number): Deps => ({ ...deps, clock: () => new Date(touched!.updated_at.getTime() + s * 1000) });
    await db.sql`select graphile_worker.remove_job(${`psp-sync:${op.id}`})`;
    const queued = async () => (await db.sql`select 1 from graphile_worker.jobs where key = ${`psp-sync:${op.id}`}`).length;
    await syncStalePspOperations(at(90), 60);
    expect(await queued()).toBe(0);
    await syncStalePspOperations(at(121), 60);
    expect(await queued()).toBe(1);

    // still nothing captured at the eighth sync: the capture is failed, and a new key may try again
    for (let n = 2; n < MAX_UNRESOLVED_SYNCS; n++)
      expect(await syncPspOperation(deps, { operationId: op.id }, commandOptions)).toBe('still_unknown');
    expect(await syncPspOperation(deps, { operationId: op.id }, commandOptions)).toBe('settled');
    const [failed] = await db.sql<
      { status: string; failure_code: string }[]
    >`select status, failure_code from gw.psp_operations where id = ${op.id}`;
    expect(failed).toEqual({ status: 'failed', failure_code: 'psp_unresolved' });
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({ status: 'authorized', capturedAmount: 0 });
    const again = await commands.request(`/v1/payments/${created.id}/capture`, command(shop, 'm-1-capture-again', {}));
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'captured', capturedAmount: 2000 });
  });

  it('captures part of a payment and refunds it twice; webhooks arriving reversed and duplicated change nothing', async () => {
    const { shop, sim } = await stripeShop({ duplicate: true, reverse: true });
    const created = (await (
      await commands.request('/v1/payments', command(shop, 'p-1', createBody(shop, { amount: 10_000, captureMethod: 'manual' })))
    ).json()) as Record<string, any>;
    expect(created).toMatchObject({ status: 'authorized', amount: 10_000, capturedAmount: 0 });

    const cap = await commands.request(`/v1/payments/${created.id}/capture`, command(shop, 'p-1-cap', { amount: 6000 }));
    expect(cap.status).toBe(200);
    expect(await cap.json()).toMatchObject({
      status: 'captured',
      capturedAmount: 6000,
      operation: { kind: 'capture', status: 'succeeded', amount: 6000 },
    });

    const r1 = await commands.request(`/v1/payments/${created.id}/refunds`, command(shop, 'p-1-r1', { amount: 2000 }));
    expect(r1.status).toBe(200);
    expect(await r1.json()).toMatchObject({ status: 'partially_refunded', refundedAmount: 2000 });
    const r2 = await commands.request(`/v1/payments/${created.id}/refunds`, command(shop, 'p-1-r2', { amount: 1500 }));
    expect(r2.status).toBe(200);
    expect(await r2.json()).toMatchObject({ status: 'partially_refunded', refundedAmount: 3500 });
    // each API refund is an operation of the payment under Stripe's refund id, as its webhook would record it
    const refundOps = await deps.sql<{ psp_reference: string; amount: string }[]>`
      select o.psp_reference, o.amount::text as amount from gw.payment_operations o
       where o.payment_id = ${created.id as string} and o.kind = 'refund' and o.outcome = 'succeeded' order by o.amount desc`;
    const apiRefunds = await deps.sql<{ operation_reference: string }[]>`
      select operation_reference from gw.psp_operations where payment_id = ${created.id as string} and kind = 'refund' order by amount desc`;
    expect(refundOps).toEqual([
      { psp_reference: expect.stringMatching(/^re_/), amount: '2000' },
      { psp_reference: expect.stringMatching(/^re_/), amount: '1500' },
    ]);
    expect(refundOps.map((o) => o.psp_reference)).toEqual(apiRefunds.map((o) => o.operation_reference));

    const tooMuch = await commands.request(`/v1/payments/${created.id}/refunds`, command(shop, 'p-1-r3', { amount: 2501 }));
    expect(tooMuch.status).toBe(422);
    expect(await tooMuch.json()).toMatchObject({ code: 'amount_out_of_range' });
    const voidCaptured = await commands.request(`/v1/payments/${created.id}/void`, command(shop, 'p-1-void'));
    expect(voidCaptured.status).toBe(409);
    expect(await voidCaptured.json()).toMatchObject({ code: 'invalid_payment_state' });

    expect(sim.webhooks.pending).toBe(4);
    await sim.webhooks.flush(); // newest first, each twice
    const results = await processReceived(deps, shop.sourceId);
    expect(results.every((r) => r === 'stale')).toBe(true);
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({
      status: 'partially_refunded',
      capturedAmount: 6000,
      refundedAmount: 3500,
    });
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([
      { kind: 'capture', amount: '6000' },
      { kind: 'refund', amount: '2000' },
      { kind: 'refund', amount: '1500' },
    ]);
    const balances = await getJson<{ data: { account: string; balance: number }[] }>(app, shop, '/v1/ledger/balances?currency=USD');
    expect(balances.data.find((b) => b.account === 'psp_receivable')?.balance).toBe(2500);
    expect((await getJson<{ balanced: boolean }>(app, shop, '/v1/ledger/check')).balanced).toBe(true);
    expect(sim.calls).toHaveLength(4);
    record('partial capture + two partial refunds', sim);
  });

  it('voids an authorized payment', async () => {
    const { shop, sim } = await stripeShop();
    const created = (await (
      await commands.request('/v1/payments', command(shop, 'v-1', createBody(shop, { captureMethod: 'manual' })))
    ).json()) as Record<string, any>;
    const res = await commands.request(`/v1/payments/${created.id}/void`, command(shop, 'v-1-void'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'voided', operation: { kind: 'void', status: 'succeeded' } });
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['stale', 'stale']);
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([]);
    record('authorize → void', sim);
  });

  it('records a decline as a failed payment and posts nothing', async () => {
    const { shop, sim } = await stripeShop();
    const res = await commands.request(
      '/v1/payments',
      command(shop, 'decline-1', createBody(shop, { paymentMethod: 'pm_card_chargeDeclined' })),
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ status: 'failed', capturedAmount: 0, operation: { status: 'failed', failureCode: 'generic_decline' } });
    expect(body.pspReference).toMatch(/^pi_/);
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['stale']);
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([]);
    const transitions = await getJson<{ data: { from: string | null; to: string }[] }>(app, shop, `/v1/payments/${body.id}/transitions`);
    expect(transitions.data.map((t) => t.to)).toEqual(['pending', 'failed']);
    expect(sim.calls).toHaveLength(1);
    record('decline → failed', sim);
  });

  it("answers 404 for another merchant's source or payment, and does not store that refusal under the key", async () => {
    const { shop, sim } = await stripeShop();
    const other = await stripeShop();
    const res = await commands.request('/v1/payments', command(shop, 'foreign-1', createBody(shop, { sourceId: other.shop.sourceId })));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'source_not_found' });
    const again = await commands.request('/v1/payments', command(shop, 'foreign-1', createBody(shop, { sourceId: other.shop.sourceId })));
    expect(again.status).toBe(404);
    // Refused before any work started: not kept (docs/http-api.md "Idempotency"), so the key stays free.
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    const [kept] = await deps.sql<{ n: number }[]>`select count(*)::int as n from gw.idempotency_keys where idempotency_key = 'foreign-1'`;
    expect(kept!.n).toBe(0);
    const pay = await commands.request('/v1/payments/pay_0000000000000000000000000000dead/capture', command(shop, 'foreign-2', {}));
    expect(pay.status).toBe(404);
    expect(sim.calls).toHaveLength(0);
  });
});

describe('a request that crashed mid-way', () => {
  it('resumes after the PSP call at its recovery point, re-sending the call with the same PSP key', async () => {
    const { shop, sim } = await stripeShop();
    // A clock that fails once the PSP has been called: the request dies between the PSP
    // call and the commit of its answer (as a process killed at that moment would).
    let armed = true;
    const crashing: Deps = {
      ...deps,
      clock: () => {
        if (armed && sim.calls.length > 0) {
          armed = false;
          throw new Error('simulated crash');
        }
        return new Date();
      },
    };
    const { commands: crashingCommands } = apps(crashing);
    const crashed = await crashingCommands.request('/v1/payments', command(shop, 'crash-1', createBody(shop)));
    expect(crashed.status).toBe(500);
    const [key] = await db.sql<{ status: string; recovery_point: string; locked_at: Date | null }[]>`
      select status, recovery_point, locked_at from gw.idempotency_keys where merchant_id = ${shop.merchantId} and idempotency_key = 'crash-1'`;
    expect(key).toMatchObject({ status: 'in_progress', recovery_point: 'operation_created', locked_at: null });
    expect(await paymentsOf(shop.merchantId)).toHaveLength(0);

    const retried = await commands.request('/v1/payments', command(shop, 'crash-1', createBody(shop)));
    expect(retried.status).toBe(201);
    expect(await retried.json()).toMatchObject({ status: 'captured', capturedAmount: 2000 });
    expect(await paymentsOf(shop.merchantId)).toHaveLength(1);
    expect(sim.calls.map((c) => c.replayed)).toEqual([false, true]);
    expect(sim.paymentIntents.size).toBe(1);
    record('crash after the PSP call → retry resumes', sim);
  });

  it('answers 409 while a crashed request still holds the lock, and takes the key over once the lock is stale', async () => {
    const { shop, sim } = await stripeShop();
    const body = createBody(shop);
    // the state a process killed right after claiming the key leaves behind
    const { claimIdempotencyKey } = await import('../../src/payments-api/idempotency/idempotency.js');
    const claim = await claimIdempotencyKey(deps, {
      merchantId: shop.merchantId,
      key: 'stale-1',
      method: 'POST',
      path: '/v1/payments',
      params: { ...body, currency: 'USD', captureMethod: 'automatic' },
    });
    expect(claim.kind).toBe('run');
    const busy = await commands.request('/v1/payments', command(shop, 'stale-1', body));
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ code: 'idempotency_key_in_progress' });

    await db.sql`update gw.idempotency_keys set locked_at = locked_at - interval '61 seconds' where idempotency_key = 'stale-1'`;
    const taken = await commands.request('/v1/payments', command(shop, 'stale-1', body));
    expect(taken.status).toBe(201);
    expect(sim.calls).toHaveLength(1);
  });
});
