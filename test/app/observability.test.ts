// GET /metrics and request logging, on a real app and a real database (issue #6, item 4):
// counters fed by real requests, tasks and deliveries; gauges read from the database at
// scrape time; log lines captured through a pino destination.
import type { JobHelpers } from 'graphile-worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/core/db/client.js';
import type { Deps } from '../../src/core/deps.js';
import { createTaskList } from '../../src/app/worker.js';
import { createLogger } from '../../src/app/node/logger.js';
import { createMetrics } from '../../src/app/node/metrics.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { startReceiver, type Receiver } from '../receiver.js';

const STRIPE_SECRET = 'whsec_observability_secret_0123456789';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let merchant: { id: string; apiKey: string };
let stripeSourceId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const base = await testDeps(db);
  deps = { ...base, metrics: createMetrics(db.sql) };
  app = testApp(deps);
  merchant = await aMerchant(deps);
  stripeSourceId = await aStripeSource(app, merchant.apiKey);
});
afterAll(async () => db.drop());

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function aStripeSource(a: ReturnType<typeof testApp>, apiKey: string): Promise<string> {
  const res = await a.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: STRIPE_SECRET }, apiKey));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** A new Stripe event body, serialised once. */
function stripeBody(marker = 'a note'): string {
  return JSON.stringify(
    buildStripeEvent('payment_intent.succeeded', { amount: 1500, at: new Date(), base: { paymentIntent: { description: marker } } }),
  );
}

/** POSTs `body` to a source, signed with `secret` (a wrong secret gives a bad signature). */
async function postStripe(
  a: ReturnType<typeof testApp>,
  sourceId: string,
  body: string,
  init: { secret?: string; headers?: Record<string, string>; query?: string } = {},
) {
  const signature = await signStripe(body, init.secret ?? STRIPE_SECRET, new Date());
  return a.request(`/inbound/${sourceId}${init.query ?? ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature, ...init.headers },
    body,
  });
}

/** The scrape, checked to be a 200 in the Prometheus text format. */
async function scrape(): Promise<string> {
  const res = await app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of the sample `name{labels}` in a scrape (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v)) {
      return Number(m[3]);
    }
  }
  return undefined;
}

describe('GET /metrics', () => {
  it('counts a stored and a refused Stripe request by outcome, with ack-latency buckets and the queued job, without authentication', async () => {
    expect((await postStripe(app, stripeSourceId, stripeBody())).status).toBe(200);
    expect((await postStripe(app, stripeSourceId, stripeBody(), { secret: 'whsec_not_the_secret' })).status).toBe(401);

    const text = await scrape();
    expect(text).toContain('\nswitchyard_inbound_requests_total{provider="stripe",outcome="stored"} 1\n');
    expect(sample(text, 'switchyard_inbound_requests_total', { provider: 'stripe', outcome: 'signature_invalid' })).toBe(1);
    expect(text).toContain('# TYPE switchyard_inbound_ack_duration_seconds histogram');
    expect(sample(text, 'switchyard_inbound_ack_duration_seconds_bucket', { le: '+Inf', provider: 'stripe', outcome: 'stored' })).toBe(1);
    expect(
      sample(text, 'switchyard_inbound_ack_duration_seconds_bucket', { le: '0.005', provider: 'stripe', outcome: 'stored' }),
    ).toBeDefined();
    expect(sample(text, 'switchyard_inbound_ack_duration_seconds_count', { provider: 'stripe', outcome: 'signature_invalid' })).toBe(1);
    expect(sample(text, 'switchyard_queue_depth', { task: 'process_inbound_event', state: 'ready' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'switchyard_queue_depth', { task: 'deliver_message', state: 'ready' })).toBe(0);
    expect(sample(text, 'switchyard_queue_oldest_job_age_seconds', { task: 'process_inbound_event' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'switchyard_queue_failed_jobs', { task: 'process_inbound_event' })).toBe(0);
  });

  it('counts a duplicate under its provider and an unknown source under provider "unknown"', async () => {
    const body = stripeBody();
    await postStripe(app, stripeSourceId, body);
    expect(await (await postStripe(app, stripeSourceId, body)).json()).toMatchObject({ duplicate: true });
    expect((await postStripe(app, 'src_does_not_exist', body)).status).toBe(404);

    const text = await scrape();
    expect(sample(text, 'switchyard_inbound_requests_total', { provider: 'stripe', outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'switchyard_inbound_requests_total', { provider: 'unknown', outcome: 'source_not_found' })).toBe(1);
  });

  it('counts job runs by task and outcome: ok when the task returns, error when it throws', async () => {
    const posted = await postStripe(app, stripeSourceId, stripeBody());
    expect(posted.status).toBe(200);
    const [row] = await db.sql<{ id: string }[]>`select id from gw.inbound_events order by received_at desc, id desc limit 1`;
    const tasks = createTaskList(deps);
    // Our tasks read only the job's id and the pool that locked it from graphile-worker's helpers.
    const helpers = { job: { id: '0', locked_by: 'pool-test' } } as unknown as JobHelpers;

    await tasks.process_inbound_event!({ inboundEventIds: [row!.id] }, helpers);
    await expect(tasks.deliver_message!({ messageId: 'msg_x' }, helpers)).rejects.toThrow(); // no attempt number

    const text = await scrape();
    expect(sample(text, 'switchyard_jobs_total', { task: 'process_inbound_event', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'switchyard_jobs_total', { task: 'deliver_message', outcome: 'error' })).toBe(1);
  });

  it('counts a delivery answered 410 as gone with its duration, the endpoint it disabled, and the disabled endpoint gauge', async () => {
    const receiver = await startReceiver(() => 410);
    receivers.push(receiver);
    const owner = await aMerchant(deps, 'Gone Ltd');
    const created = await app.request('/v1/endpoints', jsonRequest('POST', { url: receiver.url }, owner.apiKey));
    expect(created.status).toBe(201);
    const emitted = await emitEvent(db.sql, {
      merchantId: owner.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'observability-410',
      data: { paymentId: 'pay_x' },
      at: new Date(),
    });

    await deliverMessage(deps, { messageId: emitted!.messageIds[0]!, attempt: 1 });

    const text = await scrape();
    expect(sample(text, 'switchyard_delivery_attempts_total', { outcome: 'gone' })).toBe(1);
    expect(sample(text, 'switchyard_delivery_attempt_duration_seconds_count', { outcome: 'gone' })).toBe(1);
    expect(sample(text, 'switchyard_endpoints_auto_disabled_total', { reason: 'gone' })).toBe(1);
    expect(sample(text, 'switchyard_endpoints_disabled')).toBe(1);
  });

  it('counts a ledger check that finds the ledger unbalanced, and not one that finds it balanced', async () => {
    const owner = await aMerchant(deps, 'Drift Inc');
    expect(await (await app.request('/v1/ledger/check', jsonRequest('GET', undefined, owner.apiKey))).json()).toMatchObject({
      balanced: true,
    });
    expect(sample(await scrape(), 'switchyard_ledger_check_failures_total')).toBe(0);

    // A balance written outside gw.post_journal: the drift the check exists to catch.
    await db.sql`insert into gw.ledger_accounts (merchant_id, code, currency, balance) values (${owner.id}, 'bank', 'USD', 5)`;
    expect(await (await app.request('/v1/ledger/check', jsonRequest('GET', undefined, owner.apiKey))).json()).toMatchObject({
      balanced: false,
    });

    expect(sample(await scrape(), 'switchyard_ledger_check_failures_total')).toBe(1);
  });

  it('still serves the counters when the database does not answer, leaving out the gauges it reads and counting the failure', async () => {
    const closed = createSql(db.url, { max: 1 });
    await closed.end();
    const metrics = createMetrics(closed);
    metrics.inbound('stripe', 'stored', 0.01);

    const { contentType, body } = await metrics.render();

    expect(contentType).toMatch(/^text\/plain/);
    expect(sample(body, 'switchyard_inbound_requests_total', { provider: 'stripe', outcome: 'stored' })).toBe(1);
    expect(sample(body, 'switchyard_metrics_scrape_errors_total')).toBe(2); // the queue read and the endpoint count
    expect(sample(body, 'switchyard_queue_depth', { task: 'process_inbound_event', state: 'ready' })).toBeUndefined();
    expect(sample(body, 'switchyard_endpoints_disabled')).toBeNaN();
  });

  it('is not mounted when deps.metrics cannot render', async () => {
    const plain = testApp(await testDeps(db));
    expect((await plain.request('/metrics')).status).toBe(404);
  });
});

describe('request logging', () => {
  it('writes every line of one request with that request id, and one access line with no query string, headers or body', async () => {
    const raw: string[] = [];
    const logged = testApp({ ...deps, logger: createLogger('debug', { write: (line: string) => void raw.push(line) }) });
    const lines = () => raw.splice(0).map((l) => JSON.parse(l) as Record<string, unknown>);

    const refused = await postStripe(logged, stripeSourceId, stripeBody('refused-body-marker'), {
      secret: 'whsec_not_the_secret',
      headers: { 'x-request-id': 'req_trace_refused' },
      query: '?token=query-secret',
    });
    expect(refused.status).toBe(401);
    const refusedLines = lines();
    expect(refusedLines.map((l) => l.msg)).toEqual(['inbound event refused', 'request']);
    for (const line of refusedLines) expect(line.requestId).toBe('req_trace_refused');
    expect(refusedLines.at(-1)).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: expect.any(Number),
      hostname: expect.any(String),
      requestId: 'req_trace_refused',
      method: 'POST',
      path: `/inbound/${stripeSourceId}`,
      status: 401,
      durationMs: expect.any(Number),
      msg: 'request',
    });

    const stored = await postStripe(logged, stripeSourceId, stripeBody('stored-body-marker'));
    expect(stored.status).toBe(200);
    const storedId = stored.headers.get('x-request-id');
    expect(storedId).toMatch(/^req_/);
    const storedLines = lines();
    expect(storedLines.map((l) => l.msg)).toEqual(['inbound event stored', 'request']);
    for (const line of storedLines) expect(line.requestId).toBe(storedId);

    const output = JSON.stringify([...refusedLines, ...storedLines]);
    for (const leak of ['query-secret', 'refused-body-marker', 'stored-body-marker', 't=', STRIPE_SECRET]) {
      expect(output).not.toContain(leak);
    }
  });
});
