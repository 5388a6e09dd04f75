// The review queue and its compensation through the PSP simulators: review.opened/closed, approve/reject once,
// 409 payment_in_review on capture, a rejection's refund or void sent once, refund_required without an apiKey.
import { Hono } from 'hono';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireMerchant } from '../../src/core/auth/middleware.js';
import type { AppEnv, Deps } from '../../src/core/deps.js';
import { onError } from '../../src/core/http/problem.js';
import { requestContext } from '../../src/core/http/request-context.js';
import { checkLedger } from '../../src/core/ledger/ledger-store.js';
import { Decimal } from 'decimal.js';
import { insertOperation } from '../../src/core/payments/operation-store.js';
import { stripeSimulator, type StripeSimulator } from '../../src/dev/simulators/index.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { reviewRoutes } from '../../src/payments-api/routes/reviews.js';
import { retryReviewCompensation } from '../../src/payments-api/compensation.task.js';
import { scheduleCompensationRetry } from '../../src/payments-api/compensation-retry.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { aMerchant, jsonRequest, testDeps } from '../app.js';
import {
  aShop,
  apps,
  command,
  commandOptions,
  GATEWAY,
  getJson,
  processReceived,
  STRIPE_BASE,
  type Shop,
} from '../payments-api/harness.js';

const SECRET = 'whsec_risk_reviews_0123456789abcdef';
const SK = 'sk_test_simulated_reviews_0123456789';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof apps>['app'];
let commands: ReturnType<typeof apps>['commands'];
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  ({ app, commands } = apps(deps));
  // the review decisions with the tests' short PSP timeout, as the harness mounts the payment commands
  const reviews = new Hono<AppEnv>();
  reviews.use(
    '*',
    requestContext(() => deps),
  );
  reviews.onError(onError);
  reviews.use('/v1/*', requireMerchant());
  reviews.route('/v1/reviews', reviewRoutes(commandOptions));
  commands.route('/', reviews);
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await db.drop();
});

async function stripeShop(): Promise<{ shop: Shop; sim: StripeSimulator }> {
  const shop = await aShop(deps, app, { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
  const sim = stripeSimulator({
    baseUrl: STRIPE_BASE,
    apiKey: SK,
    webhooks: { url: shop.inboundUrl, secret: SECRET, delivery: 'manual', send: async (r) => app.request(r) },
  });
  server.use(...sim.handlers);
  return { shop, sim };
}

async function addRule(apiKey: string, rule: Record<string, unknown>): Promise<{ id: string }> {
  const res = await app.request('/v1/risk/rules', jsonRequest('POST', rule, apiKey));
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
}

const decide = (shop: { apiKey: string }, reviewId: string, decision: 'approve' | 'reject', key: string, reason?: string) =>
  commands.request(
    `/v1/reviews/${reviewId}/${decision}`,
    command(shop as Shop, key, decision === 'reject' ? { reason: reason ?? 'fraud' } : undefined),
  );

const eventsOf = async (merchantId: string) =>
  (await db.sql<{ type: string }[]>`select type from gw.events where merchant_id = ${merchantId} and type like 'review.%' order by id`).map(
    (e) => e.type,
  );

const createBody = (shop: Shop, extra: Record<string, unknown> = {}) => ({
  amount: 2000,
  currency: 'usd',
  sourceId: shop.sourceId,
  merchantReference: 'order-r',
  paymentMethod: 'pm_card_visa',
  ...extra,
});

describe('reviews', () => {
  it('a review decision opens a review (review.opened); approve closes it once (review.closed), a second decision is 409 review_closed', async () => {
    const { shop } = await stripeShop();
    const rule = await addRule(shop.apiKey, { name: 'Everything', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'rv-1', createBody(shop, { captureMethod: 'manual' })));
    expect(res.status).toBe(201);
    const payment = (await res.json()) as { id: string };
    const open = await getJson<{ data: Record<string, any>[] }>(app, shop, '/v1/reviews?status=open');
    expect(open.data).toHaveLength(1);
    const review = open.data[0]!;
    expect(review).toMatchObject({ paymentId: payment.id, status: 'open', openedBy: { id: rule.id, version: 1 }, compensation: null });
    expect(review.id).toMatch(/^rev_[0-9a-f]{32}$/);
    expect(await getJson(app, shop, `/v1/payments/${payment.id}`)).toMatchObject({ review: { id: review.id, status: 'open' } });
    // review.opened is sent once the payment is stored, naming it
    const [opened] = await db.sql<{ payment_id: string | null; payload: { data: { paymentId: string | null } } }[]>`
      select e.payment_id, convert_from(p.payload, 'utf8')::jsonb as payload
        from gw.events e join gw.event_payloads p on p.event_id = e.id
       where e.merchant_id = ${shop.merchantId} and e.type = 'review.opened'`;
    expect(opened).toMatchObject({ payment_id: payment.id, payload: { data: { paymentId: payment.id } } });
    // the stored row names the payment too, not only reads that join its create operation
    const [stored] = await db.sql<{ payment_id: string | null }[]>`select payment_id from gw.reviews where id = ${review.id}`;
    expect(stored!.payment_id).toBe(payment.id);
    await expect(db.sql`update gw.reviews set payment_id = null where id = ${review.id}`).rejects.toThrow(/may change/);

    // capture waits for the review
    const capture = await commands.request(`/v1/payments/${payment.id}/capture`, command(shop, 'cap-1'));
    expect(capture.status).toBe(409);
    expect(await capture.json()).toMatchObject({ code: 'payment_in_review' });

    const approved = await decide(shop, review.id, 'approve', 'ap-1');
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ id: review.id, status: 'approved', compensation: null });
    const replay = await decide(shop, review.id, 'approve', 'ap-1');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const again = await decide(shop, review.id, 'reject', 'rj-1');
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'review_closed' });
    expect(await eventsOf(shop.merchantId)).toEqual(['review.opened', 'review.closed']);
    expect((await commands.request(`/v1/payments/${payment.id}/capture`, command(shop, 'cap-2'))).status).toBe(200);
    expect(await getJson(app, shop, '/v1/reviews?status=approved')).toMatchObject({ data: [{ id: review.id }] });
    await expect(db.sql`update gw.reviews set status = 'open', closed_at = null where id = ${review.id}`).rejects.toMatchObject({
      code: '23514',
    });
  });

  it('rejecting a captured payment refunds it through the PSP once, even with two rejects at once; the refund webhook reverses the ledger, balanced', async () => {
    const { shop, sim } = await stripeShop();
    await addRule(shop.apiKey, { name: 'Everything', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'rf-1', createBody(shop, { customer: { reference: 'cust-bad' } })));
    const payment = (await res.json()) as { id: string; status: string };
    expect(payment.status).toBe('captured');
    const [review] = (await getJson<{ data: { id: string }[] }>(app, shop, '/v1/reviews?status=open')).data;
    const before = sim.calls.length;
    const [a, b] = await Promise.all([decide(shop, review!.id, 'reject', 'rj-a'), decide(shop, review!.id, 'reject', 'rj-b')]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const winner = (a.status === 200 ? await a.json() : await b.json()) as Record<string, any>;
    expect(winner).toMatchObject({
      status: 'rejected',
      reason: 'fraud',
      compensation: 'refund',
      payment: { operation: { kind: 'refund', amount: 2000 } },
    });
    const refunds = sim.calls.slice(before).filter((c) => c.method === 'POST' && c.path.endsWith('/refunds') && !c.replayed);
    expect(refunds).toHaveLength(1);
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    expect(await getJson(app, shop, `/v1/payments/${payment.id}`)).toMatchObject({ status: 'refunded', review: { status: 'rejected' } });
    expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);
    expect(await eventsOf(shop.merchantId)).toEqual(['review.opened', 'review.closed']);
    expect((await expectEventsMatchCatalogue(db.sql))['review.closed']).toBeGreaterThanOrEqual(2);

    // the customer went onto the built-in block list: the next attempt is blocked before the PSP
    const lists = await getJson<{ data: { id: string; alias: string }[] }>(app, shop, '/v1/risk/lists');
    const customers = lists.data.find((l) => l.alias === 'blocked_customers')!;
    expect(await getJson(app, shop, `/v1/risk/lists/${customers.id}/items`)).toMatchObject({
      data: [{ value: 'cust-bad', addedBy: review!.id }],
    });
    const calls = sim.calls.length;
    const next = await commands.request('/v1/payments', command(shop, 'rf-2', createBody(shop, { customer: { reference: 'cust-bad' } })));
    expect(next.status).toBe(402);
    expect(await next.json()).toMatchObject({ code: 'payment_blocked', rule: { name: 'Blocked card or customer' } });
    expect(sim.calls).toHaveLength(calls);
  });

  it('a compensating refund the PSP refuses is sent again by a job, as a new operation, once it can succeed', async () => {
    const { shop, sim } = await stripeShop();
    await addRule(shop.apiKey, { name: 'Everything', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'rt-1', createBody(shop, { customer: { reference: 'cust-retry' } })));
    const payment = (await res.json()) as { id: string };
    const [review] = (await getJson<{ data: { id: string }[] }>(app, shop, '/v1/reviews?status=open')).data;
    server.use(
      http.post(
        `${STRIPE_BASE}/v1/refunds`,
        () => HttpResponse.json({ error: { type: 'invalid_request_error', message: 'Refunds are paused' } }, { status: 400 }),
        { once: true },
      ),
    );
    const rejected = await decide(shop, review!.id, 'reject', 'rt-rj');
    expect(rejected.status).toBe(502);
    const ops = () =>
      db.sql<{ status: string; request: { compensationAttempt?: number } }[]>`
        select status, request from gw.psp_operations where payment_id = ${payment.id} and kind = 'refund' order by created_at, id`;
    expect((await ops()).map((o) => o.status)).toEqual(['failed']);
    const jobs = () =>
      db.sql<{ payload: { merchantId: string; reviewId: string; attempt: number }; run_at: Date }[]>`
        select j.payload, j.run_at from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
         where t.identifier = 'retry_review_compensation' and j.payload->>'reviewId' = ${review!.id}`;
    const [job] = await jobs();
    expect(job!.payload).toEqual({ merchantId: shop.merchantId, reviewId: review!.id, attempt: 1 });
    expect(job!.run_at.getTime()).toBeGreaterThan(Date.now() + 30_000);

    const before = sim.calls.length;
    expect(await retryReviewCompensation(deps, job!.payload, commandOptions)).toBe('sent');
    expect(sim.calls.slice(before).filter((c) => c.path.endsWith('/refunds'))).toHaveLength(1);
    expect((await ops()).map((o) => [o.status, o.request.compensationAttempt])).toEqual([
      ['failed', undefined],
      ['succeeded', 1],
    ]);
    // done: a second run (a duplicate job) sends nothing
    expect(await retryReviewCompensation(deps, job!.payload, commandOptions)).toBe('nothing_to_do');
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    expect(await getJson(app, shop, `/v1/payments/${payment.id}`)).toMatchObject({ status: 'refunded', review: { status: 'rejected' } });
    expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);
  });

  it('a redelivered compensation retry finds the operation its first run made: sent again with its key while requested, else nothing', async () => {
    const { shop, sim } = await stripeShop();
    await addRule(shop.apiKey, { name: 'Everything', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'rd-1', createBody(shop, { customer: { reference: 'cust-redo' } })));
    const payment = (await res.json()) as { id: string; amount: number; currency: string };
    const [review] = (await getJson<{ data: { id: string }[] }>(app, shop, '/v1/reviews?status=open')).data;
    const refuse = () =>
      server.use(
        http.post(
          `${STRIPE_BASE}/v1/refunds`,
          () => HttpResponse.json({ error: { type: 'invalid_request_error', message: 'Refunds are paused' } }, { status: 400 }),
          { once: true },
        ),
      );
    refuse();
    expect((await decide(shop, review!.id, 'reject', 'rd-rj')).status).toBe(502);
    const ops = () =>
      db.sql<{ status: string; key: string }[]>`
        select status, psp_idempotency_key as key from gw.psp_operations
         where payment_id = ${payment.id} and kind = 'refund' order by created_at, id`;
    const job = (attempt: number) => ({ merchantId: shop.merchantId, reviewId: review!.id, attempt });
    const refunds = () => sim.calls.filter((c) => c.path.endsWith('/refunds'));

    // attempt 1 refused; its job delivered again: the attempt's operation is found, nothing is sent or stored again
    refuse();
    expect(await retryReviewCompensation(deps, job(1), commandOptions)).toBe('sent');
    const afterFirst = refunds().length;
    expect(await retryReviewCompensation(deps, job(1), commandOptions)).toBe('nothing_to_do');
    expect(refunds()).toHaveLength(afterFirst);
    expect((await ops()).map((o) => o.status)).toEqual(['failed', 'failed']);

    // attempt 2's first run stored its operation and stopped before the PSP answered: the redelivered job sends that
    // operation again, with its key, and settles it
    const key = `review-compensation:${review!.id}:2`;
    await insertOperation(db.sql, {
      merchantId: shop.merchantId,
      sourceId: shop.sourceId,
      paymentId: payment.id,
      kind: 'refund',
      amount: new Decimal(payment.amount),
      currency: payment.currency,
      pspIdempotencyKey: key,
      pspReference: (await getJson<{ pspReference: string }>(app, shop, `/v1/payments/${payment.id}`)).pspReference,
      request: { paymentId: payment.id, reviewId: review!.id, compensationAttempt: 2, amount: payment.amount },
      now: new Date(),
    });
    expect(await retryReviewCompensation(deps, job(2), commandOptions)).toBe('sent');
    expect(
      refunds()
        .slice(afterFirst)
        .map((c) => c.idempotencyKey),
    ).toEqual([key]);
    expect((await ops()).map((o) => [o.status, o.key])).toEqual([
      ['failed', expect.any(String)],
      ['failed', `review-compensation:${review!.id}:1`],
      ['succeeded', key],
    ]);
    expect(await retryReviewCompensation(deps, job(2), commandOptions)).toBe('nothing_to_do');
    expect(refunds().slice(afterFirst)).toHaveLength(1);
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    expect(await getJson(app, shop, `/v1/payments/${payment.id}`)).toMatchObject({ status: 'refunded' });
    expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);
  });

  it('a compensation the PSP refuses past its last retry is marked on the review and sent to the operator once', async () => {
    const { shop } = await stripeShop();
    await addRule(shop.apiKey, { name: 'Everything', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'cf-1', createBody(shop, { customer: { reference: 'cust-cf' } })));
    const payment = (await res.json()) as { id: string };
    const [review] = (await getJson<{ data: { id: string }[] }>(app, shop, '/v1/reviews?status=open')).data;
    server.use(
      http.post(`${STRIPE_BASE}/v1/refunds`, () =>
        HttpResponse.json({ error: { type: 'invalid_request_error', message: 'Refunds are paused' } }, { status: 400 }),
      ),
    );
    expect((await decide(shop, review!.id, 'reject', 'cf-rj')).status).toBe(502);
    const operatorDeps: Deps = { ...deps, config: { ...deps.config, SWITCHYARD_OPERATOR_WEBHOOK_URL: 'http://127.0.0.1:9/operator' } };
    // the fifth retry is refused: a sixth is queued, nothing is marked yet
    expect(
      await retryReviewCompensation(operatorDeps, { merchantId: shop.merchantId, reviewId: review!.id, attempt: 5 }, commandOptions),
    ).toBe('sent');
    const view = () => getJson<{ compensationFailedAt: string | null; status: string }>(app, shop, `/v1/reviews/${review!.id}`);
    expect((await view()).compensationFailedAt).toBeNull();
    // the sixth, the last, is refused too
    expect(
      await retryReviewCompensation(operatorDeps, { merchantId: shop.merchantId, reviewId: review!.id, attempt: 6 }, commandOptions),
    ).toBe('sent');
    const failed = await view();
    expect(failed).toMatchObject({ status: 'rejected', compensationFailedAt: expect.any(String) });
    const operatorEvents = () =>
      db.sql<{ type: string; payload: { data: { merchantId: string; attempts: number; review: { id: string; paymentId: string } } } }[]>`
        select type, convert_from(payload, 'utf8')::jsonb as payload from gw.operator_events where merchant_id = ${shop.merchantId}`;
    const events = await operatorEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'review.compensation_failed',
      payload: { data: { merchantId: shop.merchantId, attempts: 6, review: { id: review!.id, paymentId: payment.id } } },
    });
    const ops = await db.sql<{ status: string }[]>`
      select status from gw.psp_operations where payment_id = ${payment.id} and kind = 'refund' order by created_at, id`;
    expect(ops.map((o) => o.status)).toEqual(['failed', 'failed', 'failed']);
    // the last refusal settled twice (a redelivered job) neither marks again nor alerts twice
    await db.sql.begin((tx) =>
      scheduleCompensationRetry(operatorDeps, tx, {
        merchantId: shop.merchantId,
        request: { reviewId: review!.id, compensationAttempt: 6 },
      }),
    );
    expect(await operatorEvents()).toHaveLength(1);
    expect((await view()).compensationFailedAt).toBe(failed.compensationFailedAt);
  });

  it('rejecting an authorized payment voids it through the PSP', async () => {
    const { shop, sim } = await stripeShop();
    await addRule(shop.apiKey, { name: 'Everything', action: 'review', expression: 'amount > 0' });
    const res = await commands.request('/v1/payments', command(shop, 'vd-1', createBody(shop, { captureMethod: 'manual' })));
    const payment = (await res.json()) as { id: string };
    const [review] = (await getJson<{ data: { id: string }[] }>(app, shop, '/v1/reviews?status=open')).data;
    const rejected = await decide(shop, review!.id, 'reject', 'vd-r');
    expect(rejected.status).toBe(200);
    expect(await rejected.json()).toMatchObject({
      compensation: 'void',
      payment: { status: 'voided', operation: { kind: 'void', status: 'succeeded' } },
    });
    expect(sim.calls.filter((c) => c.path.endsWith('/cancel') && !c.replayed)).toHaveLength(1);
    expect(await getJson(app, shop, `/v1/payments/${payment.id}`)).toMatchObject({ status: 'voided' });
  });

  it('a payment that came only by webhook, on a source without apiKey, is marked refund_required and listed; nothing is sent', async () => {
    const m = await aMerchant(deps, 'Webhooks only');
    const src = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, m.apiKey));
    const source = (await src.json()) as { id: string; inboundUrl: string };
    await addRule(m.apiKey, { name: 'High value', action: 'review', expression: 'amount >= 100000' });
    const raw = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_webhook_only_1', amount: 150000 }));
    const posted = await app.request(`${GATEWAY}${source.inboundUrl}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(raw, SECRET, new Date()) },
      body: raw,
    });
    expect(posted.status).toBe(200);
    expect(await processReceived(deps, source.id)).toEqual(['applied']);
    const shop = { apiKey: m.apiKey } as Shop;
    const [review] = (await getJson<{ data: { id: string; paymentId: string }[] }>(app, shop, '/v1/reviews?status=open')).data;
    const rejected = await decide(shop, review!.id, 'reject', 'wh-r', 'stolen card');
    expect(rejected.status).toBe(200);
    expect(await rejected.json()).toMatchObject({ status: 'rejected', compensation: 'refund_required', compensationOperationId: null });
    expect(await getJson(app, shop, '/v1/reviews?compensation=refund_required')).toMatchObject({
      data: [{ id: review!.id, paymentId: review!.paymentId }],
    });
    expect(await getJson(app, shop, `/v1/payments/${review!.paymentId}`)).toMatchObject({
      status: 'captured',
      review: { status: 'rejected' },
    });
    expect(await db.sql`select 1 from gw.psp_operations where merchant_id = ${m.id}`).toHaveLength(0);
  });
});
