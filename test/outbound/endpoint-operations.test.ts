// Endpoint operations end to end, short of a graphile runner: PATCH, secret rotation, test
// events, redelivery and recovery through the API, `deliverMessage` called as the worker
// would, and real HTTP receivers on 127.0.0.1 (docs/http-api.md "Endpoints", "Outbound
// webhooks", "Events and attempts").
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach, type Received } from '../receiver.js';

const DAY_MS = 24 * 60 * 60 * 1000;

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close();
});

/** A scripted receiver (test/receiver.ts) closed after the test. */
const receiver = receiversClosedAfterEach();

interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  status: string;
  rateLimitPerSecond: number | null;
  maxInFlight: number;
  createdAt: string;
  updatedAt: string;
}
interface CreatedEndpoint extends EndpointView {
  secret: string;
}

type App = ReturnType<typeof testApp>;
const auth = (apiKey: string) => ({ headers: { authorization: `Bearer ${apiKey}` } });

/** Creates an endpoint for `apiKey` through the API. */
async function createEndpoint(app: App, apiKey: string, url: string, extra: Record<string, unknown> = {}): Promise<CreatedEndpoint> {
  const res = await app.request('/v1/endpoints', jsonRequest('POST', { url, ...extra }, apiKey));
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedEndpoint;
}

/** A new merchant with one endpoint at `url`, created through the API with `d`. */
async function merchantWithEndpoint(d: Deps, url: string, extra: Record<string, unknown> = {}) {
  const app = testApp(d);
  const merchant = await aMerchant(d);
  const endpoint = await createEndpoint(app, merchant.apiKey, url, extra);
  return { app, merchant, endpoint };
}

let dedupe = 0;
const capturedData = { paymentId: 'pay_test', amount: 1099, currency: 'USD' };

/** Emits one event to the merchant's subscribed endpoints; returns its id and message ids. */
async function emit(merchantId: string, type = 'payment.captured', at = new Date()) {
  const emitted = await emitEvent(db.sql, { merchantId, type, paymentId: null, dedupeKey: `ops-test-${++dedupe}`, data: capturedData, at });
  expect(emitted).toBeDefined();
  return emitted!;
}

/** Emits one payment.captured event and returns its single message id. */
async function emitOne(merchantId: string, at = new Date()) {
  const { eventId, messageIds } = await emit(merchantId, 'payment.captured', at);
  expect(messageIds).toHaveLength(1);
  return { eventId, messageId: messageIds[0]! };
}

interface MessageRow {
  id: string;
  endpoint_id: string;
  status: string;
  attempts: number;
  next_attempt_at: Date | null;
}
async function messageRow(id: string): Promise<MessageRow> {
  const [row] = await db.sql<MessageRow[]>`
    select id, endpoint_id, status, attempts, next_attempt_at from gw.messages where id = ${id}`;
  expect(row).toBeDefined();
  return row!;
}
async function messagesOfEvent(eventId: string): Promise<MessageRow[]> {
  return db.sql<MessageRow[]>`
    select id, endpoint_id, status, attempts, next_attempt_at from gw.messages where event_id = ${eventId} order by id`;
}
async function attemptRows(messageId: string): Promise<{ attempt_number: number; status: string; response_status: number | null }[]> {
  return db.sql`
    select attempt_number, status, response_status from gw.attempts where message_id = ${messageId} order by attempt_number`;
}

interface JobRow {
  payload: { messageId: string; attempt: number };
  run_at: Date;
}
/**
 * The deliver_message attempts queued for a message (graphile-worker 0.16 private tables),
 * by attempt: a job's payload is one attempt or an array of them (a batch).
 */
async function deliverJobs(messageId: string): Promise<JobRow[]> {
  return db.sql<JobRow[]>`
    select e.value as payload, j.run_at
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     cross join lateral json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
     where t.identifier = 'deliver_message' and e.value ->> 'messageId' = ${messageId}
     order by (e.value ->> 'attempt')::int`;
}
const attemptsQueued = async (messageId: string) => (await deliverJobs(messageId)).map((j) => j.payload.attempt);

/** Fails a message by running the whole test schedule (testDeps: 4 attempts) against a receiver answering 500. */
async function exhaust(d: Deps, messageId: string): Promise<void> {
  for (const attempt of [1, 2, 3, 4]) await deliverMessage(d, { messageId, attempt });
  expect(await messageRow(messageId)).toMatchObject({ status: 'failed', attempts: 4 });
}

/** Request headers as the flat record `standardwebhooks` expects. */
function flatHeaders(r: Received): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
const signatures = (r: Received) => String(r.headers['webhook-signature']).split(' ');

async function eventCount(merchantId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.events where merchant_id = ${merchantId}`;
  return row!.n;
}

describe('maxInFlight', () => {
  it('is 8 unless set, is set on creation (1–64), shows in the view, and is what the delivery engine reads', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    expect(endpoint.maxInFlight).toBe(8);
    const created = await createEndpoint(app, merchant.apiKey, r.url, { maxInFlight: 4 });
    expect(created.maxInFlight).toBe(4);
    const got = await app.request(`/v1/endpoints/${created.id}`, auth(merchant.apiKey));
    expect(await got.json()).toMatchObject({ maxInFlight: 4 });
    const [row] = await db.sql<{ max_in_flight: number }[]>`select max_in_flight from gw.endpoints where id = ${created.id}`;
    expect(row!.max_in_flight).toBe(4);
  });

  it('answers 400 invalid_request on creation for a value outside 1–64 or not an integer, and creates nothing', async () => {
    const r = await receiver();
    const app = testApp(deps);
    const merchant = await aMerchant(deps);
    for (const maxInFlight of [0, 65, -1, 1.5, '8', null]) {
      const res = await app.request('/v1/endpoints', jsonRequest('POST', { url: r.url, maxInFlight }, merchant.apiKey));
      expect(res.status, JSON.stringify(maxInFlight)).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await res.json()) as { code: string; errors: { path: string }[] };
      expect(problem.code).toBe('invalid_request');
      expect(JSON.stringify(problem.errors)).toContain('maxInFlight');
    }
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.endpoints where merchant_id = ${merchant.id}`;
    expect(n!.n).toBe(0);
  });
});

describe('PATCH /v1/endpoints/{id}', () => {
  it('changes each field on its own, answers 200 with the endpoint, and GET shows the same', async () => {
    const r1 = await receiver();
    const r2 = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r1.url, {
      eventTypes: ['payment.captured'],
      description: 'first',
      rateLimitPerSecond: 10,
    });
    const { secret: _secret, ...view } = endpoint;
    let expected: EndpointView = view;

    const steps: [Record<string, unknown>, Partial<EndpointView>][] = [
      [{ url: r2.url }, { url: r2.url }],
      [{ eventTypes: ['payment.refunded', 'payment.captured'] }, { eventTypes: ['payment.refunded', 'payment.captured'] }],
      [{ eventTypes: null }, { eventTypes: null }],
      [{ description: 'second' }, { description: 'second' }],
      [{ description: null }, { description: null }],
      [{ rateLimitPerSecond: 5 }, { rateLimitPerSecond: 5 }],
      [{ rateLimitPerSecond: null }, { rateLimitPerSecond: null }],
      [{ maxInFlight: 1 }, { maxInFlight: 1 }],
      [{ maxInFlight: 64 }, { maxInFlight: 64 }],
      [{ status: 'disabled' }, { status: 'disabled' }],
      [{ status: 'enabled' }, { status: 'enabled' }],
    ];
    for (const [patch, change] of steps) {
      const res = await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', patch, merchant.apiKey));
      expect(res.status, JSON.stringify(patch)).toBe(200);
      const body = (await res.json()) as EndpointView;
      expected = { ...expected, ...change, updatedAt: body.updatedAt };
      expect(body).toEqual(expected);
      expect(new Date(body.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(body.createdAt).getTime());
      const got = await app.request(`/v1/endpoints/${endpoint.id}`, auth(merchant.apiKey));
      expect(await got.json()).toEqual(expected);
    }
  });

  it('changes several fields in one request', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);

    const res = await app.request(
      `/v1/endpoints/${endpoint.id}`,
      jsonRequest('PATCH', { description: 'orders', eventTypes: ['payment.refunded'], rateLimitPerSecond: 50 }, merchant.apiKey),
    );

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ url: r.url, description: 'orders', eventTypes: ['payment.refunded'], rateLimitPerSecond: 50 });
  });

  it('delivers the next message to the new URL once the URL is changed', async () => {
    const before = await receiver();
    const after = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, before.url);

    const res = await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { url: after.url }, merchant.apiKey));
    expect(res.status).toBe(200);
    const { messageId } = await emitOne(merchant.id);
    await deliverMessage(deps, { messageId, attempt: 1 });

    expect(before.received).toHaveLength(0);
    expect(after.received).toHaveLength(1);
    expect(await messageRow(messageId)).toMatchObject({ status: 'succeeded' });
  });

  it('gives a disabled endpoint no new messages, and gives it messages again once re-enabled', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);

    await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { status: 'disabled' }, merchant.apiKey));
    expect((await emit(merchant.id)).messageIds).toEqual([]);

    await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { status: 'enabled' }, merchant.apiKey));
    expect((await emit(merchant.id)).messageIds).toHaveLength(1);
  });

  it('subscribes an endpoint to every type when eventTypes is set to null', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url, { eventTypes: ['payment.refunded'] });
    expect((await emit(merchant.id, 'payment.captured')).messageIds).toEqual([]);

    await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { eventTypes: null }, merchant.apiKey));

    expect((await emit(merchant.id, 'payment.captured')).messageIds).toHaveLength(1);
  });

  it('answers 400 invalid_request for an empty body, unknown keys and bad values, and changes nothing', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url, { description: 'kept' });
    const bodies: unknown[] = [
      {},
      { colour: 'blue' },
      { description: 'x', colour: 'blue' },
      { status: 'deleted' },
      { status: 'paused' },
      { eventTypes: [] },
      { eventTypes: ['Not A Type'] },
      { eventTypes: 'payment.captured' },
      { rateLimitPerSecond: 0 },
      { rateLimitPerSecond: 1.5 },
      { maxInFlight: 0 },
      { maxInFlight: 65 },
      { maxInFlight: 2.5 },
      { maxInFlight: '4' },
      { maxInFlight: null },
      { url: null },
      { url: '' },
      { description: 42 },
      { status: null },
      [],
    ];
    for (const body of bodies) {
      const res = await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', body, merchant.apiKey));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await res.json()) as { code: string; errors: unknown[] };
      expect(problem.code).toBe('invalid_request');
      expect(problem.errors.length).toBeGreaterThan(0);
    }
    const notJson = await app.request(`/v1/endpoints/${endpoint.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${merchant.apiKey}` },
      body: '{"status":',
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: 'invalid_request' });

    const got = await app.request(`/v1/endpoints/${endpoint.id}`, auth(merchant.apiKey));
    expect(await got.json()).toMatchObject({ url: r.url, description: 'kept', status: 'enabled', updatedAt: endpoint.updatedAt });
  });

  it('answers 400 url_not_allowed for a metadata address or a non-http URL, as creation does, and keeps the old URL', async () => {
    const r = await receiver();
    const { merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const strict = testApp(await testDeps(db, { env: { SWITCHYARD_ALLOW_PRIVATE_URLS: 'false' } }));
    const permissive = testApp(deps);

    for (const [app, url] of [
      [strict, 'http://169.254.169.254/latest/meta-data'],
      [strict, 'http://127.0.0.1:9/hooks'],
      [permissive, 'ftp://example.com/hooks'],
    ] as const) {
      const res = await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { url }, merchant.apiKey));
      expect(res.status, url).toBe(400);
      expect(await res.json()).toMatchObject({ status: 400, code: 'url_not_allowed' });
    }
    const got = await permissive.request(`/v1/endpoints/${endpoint.id}`, auth(merchant.apiKey));
    expect(await got.json()).toMatchObject({ url: r.url });
  });

  it('answers 404 for an endpoint that does not exist or was deleted', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    await app.request(`/v1/endpoints/${endpoint.id}`, { method: 'DELETE', ...auth(merchant.apiKey) });

    for (const id of [endpoint.id, 'ep_00000000000000000000000000000000']) {
      const res = await app.request(`/v1/endpoints/${id}`, jsonRequest('PATCH', { status: 'enabled' }, merchant.apiKey));
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ code: 'not_found' });
    }
    const [row] = await db.sql<{ status: string }[]>`select status from gw.endpoints where id = ${endpoint.id}`;
    expect(row!.status).toBe('deleted');
  });
});

describe("another merchant's endpoint", () => {
  it('is 404 not_found on PATCH, secret, rotate, test, recover and redeliver, and is left as it was', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { eventId } = await emitOne(merchant.id);
    const stranger = await aMerchant(deps, 'Stranger');
    const strangersEvent = await emit(stranger.id);
    const eventsBefore = await eventCount(merchant.id);

    const requests: [string, RequestInit][] = [
      [`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { url: 'http://127.0.0.1:1/elsewhere', status: 'disabled' }, stranger.apiKey)],
      [`/v1/endpoints/${endpoint.id}/secret`, auth(stranger.apiKey)],
      [`/v1/endpoints/${endpoint.id}/secret/rotate`, { method: 'POST', ...auth(stranger.apiKey) }],
      [`/v1/endpoints/${endpoint.id}/test`, { method: 'POST', ...auth(stranger.apiKey) }],
      [
        `/v1/endpoints/${endpoint.id}/recover`,
        jsonRequest('POST', { since: new Date(Date.now() - DAY_MS).toISOString() }, stranger.apiKey),
      ],
      [`/v1/events/${eventId}/redeliver`, jsonRequest('POST', {}, stranger.apiKey)],
      [`/v1/events/${strangersEvent.eventId}/redeliver`, jsonRequest('POST', { endpointId: endpoint.id }, stranger.apiKey)],
    ];
    for (const [path, init] of requests) {
      const res = await app.request(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ status: 404, code: 'not_found' });
    }

    const got = await app.request(`/v1/endpoints/${endpoint.id}`, auth(merchant.apiKey));
    expect(await got.json()).toMatchObject({ url: r.url, status: 'enabled', updatedAt: endpoint.updatedAt });
    const secret = await app.request(`/v1/endpoints/${endpoint.id}/secret`, auth(merchant.apiKey));
    expect(await secret.json()).toEqual({ secret: endpoint.secret });
    expect(await eventCount(merchant.id)).toBe(eventsBefore);
    expect(await messagesOfEvent(strangersEvent.eventId)).toEqual([]);
  });
});

describe('POST /v1/endpoints/{id}/secret/rotate', () => {
  it('returns a new secret that GET /secret then shows, and the next delivery verifies with both the old and the new secret', async () => {
    const t0 = new Date();
    const d = await testDeps(db, { clock: fixedClock(t0) });
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(d, r.url);

    const res = await app.request(`/v1/endpoints/${endpoint.id}/secret/rotate`, { method: 'POST', ...auth(merchant.apiKey) });

    expect(res.status).toBe(200);
    const { secret } = (await res.json()) as { secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(secret).not.toBe(endpoint.secret);
    const shown = await app.request(`/v1/endpoints/${endpoint.id}/secret`, auth(merchant.apiKey));
    expect(await shown.json()).toEqual({ secret });

    const { messageId } = await emitOne(merchant.id, t0);
    await deliverMessage(d, { messageId, attempt: 1 });

    const req = r.received[0]!;
    expect(signatures(req)).toHaveLength(2);
    expect(() => new Webhook(endpoint.secret).verify(req.body, flatHeaders(req))).not.toThrow();
    expect(() => new Webhook(secret).verify(req.body, flatHeaders(req))).not.toThrow();
    const [old] = await db.sql<{ expires_at: Date | null }[]>`
      select expires_at from gw.endpoint_secrets where endpoint_id = ${endpoint.id} order by id limit 1`;
    expect(old!.expires_at?.getTime()).toBe(t0.getTime() + DAY_MS);
  });

  it('signs with both secrets until 24 h after the rotation and with the new one alone from then on', async () => {
    const t0 = new Date();
    const d = await testDeps(db, { clock: fixedClock(t0) });
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(d, r.url);
    const res = await app.request(`/v1/endpoints/${endpoint.id}/secret/rotate`, { method: 'POST', ...auth(merchant.apiKey) });
    const { secret } = (await res.json()) as { secret: string };

    // The same process a day later: the same master key, a clock moved on.
    const justBefore: Deps = { ...d, clock: fixedClock(new Date(t0.getTime() + DAY_MS - 1000)) };
    const dayLater: Deps = { ...d, clock: fixedClock(new Date(t0.getTime() + DAY_MS)) };
    const first = await emitOne(merchant.id, t0);
    await deliverMessage(justBefore, { messageId: first.messageId, attempt: 1 });
    const second = await emitOne(merchant.id, t0);
    await deliverMessage(dayLater, { messageId: second.messageId, attempt: 1 });

    expect(r.received).toHaveLength(2);
    const expectedFrom = (s: string, req: Received) =>
      new Webhook(s).sign(String(req.headers['webhook-id']), new Date(Number(req.headers['webhook-timestamp']) * 1000), req.body);
    const [before, after] = r.received as [Received, Received];
    expect(signatures(before).sort()).toEqual([expectedFrom(secret, before), expectedFrom(endpoint.secret, before)].sort());
    // The timestamp is a day ahead of the real clock, so the official verifier would refuse it
    // as too new; its signer shows which secrets signed instead.
    expect(signatures(after)).toEqual([expectedFrom(secret, after)]);
    expect(signatures(after)).not.toContain(expectedFrom(endpoint.secret, after));
    const shown = await testApp(dayLater).request(`/v1/endpoints/${endpoint.id}/secret`, auth(merchant.apiKey));
    expect(await shown.json()).toEqual({ secret });
  });

  it('delivers, during the overlap, a message that the standardwebhooks and svix verifiers accept with the old and the new secret', async () => {
    const d = await testDeps(db);
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(d, r.url);
    const res = await app.request(`/v1/endpoints/${endpoint.id}/secret/rotate`, { method: 'POST', ...auth(merchant.apiKey) });
    const { secret } = (await res.json()) as { secret: string };
    const { messageId } = await emitOne(merchant.id, new Date());
    await deliverMessage(d, { messageId, attempt: 1 });
    const [req] = r.received as [Received];
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const body = req.body.toString('utf8');
    for (const s of [endpoint.secret, secret]) {
      expect(new Webhook(s).verify(body, headers)).toMatchObject({ type: 'payment.captured' });
      expect(new SvixWebhook(s).verify(body, headers)).toMatchObject({ type: 'payment.captured' });
    }
  });

  it('keeps an earlier expiry when rotating again within the overlap, so three secrets sign for a while', async () => {
    const t0 = new Date();
    const d = await testDeps(db, { clock: fixedClock(t0) });
    const hourLater: Deps = { ...d, clock: fixedClock(new Date(t0.getTime() + 3_600_000)) };
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(d, r.url);

    await app.request(`/v1/endpoints/${endpoint.id}/secret/rotate`, { method: 'POST', ...auth(merchant.apiKey) });
    const res = await testApp(hourLater).request(`/v1/endpoints/${endpoint.id}/secret/rotate`, {
      method: 'POST',
      ...auth(merchant.apiKey),
    });
    expect(res.status).toBe(200);

    const rows = await db.sql<{ expires_at: Date | null }[]>`
      select expires_at from gw.endpoint_secrets where endpoint_id = ${endpoint.id} order by id`;
    expect(rows.map((x) => x.expires_at?.getTime() ?? null)).toEqual([t0.getTime() + DAY_MS, t0.getTime() + 3_600_000 + DAY_MS, null]);
    const { messageId } = await emitOne(merchant.id, t0);
    await deliverMessage(hourLater, { messageId, attempt: 1 });
    expect(signatures(r.received[0]!)).toHaveLength(3);
  });
});

describe('POST /v1/endpoints/{id}/test', () => {
  it('sends a webhook.test event to that endpoint only, even when its eventTypes exclude it', async () => {
    const target = await receiver();
    const bystander = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, target.url, { eventTypes: ['payment.refunded'] });
    await createEndpoint(app, merchant.apiKey, bystander.url);

    const res = await app.request(`/v1/endpoints/${endpoint.id}/test`, { method: 'POST', ...auth(merchant.apiKey) });

    expect(res.status).toBe(202);
    const { eventId, messageId } = (await res.json()) as { eventId: string; messageId: string };
    expect(eventId).toMatch(/^evt_/);
    expect(messageId).toMatch(/^msg_/);
    expect(await messagesOfEvent(eventId)).toMatchObject([{ id: messageId, endpoint_id: endpoint.id, status: 'pending' }]);
    expect(await attemptsQueued(messageId)).toEqual([1]);

    await deliverMessage(deps, { messageId, attempt: 1 });

    expect(bystander.received).toHaveLength(0);
    expect(target.received).toHaveLength(1);
    const req = target.received[0]!;
    expect(req.headers['webhook-id']).toBe(messageId);
    const payload = new Webhook(endpoint.secret).verify(req.body, flatHeaders(req));
    expect(payload).toEqual({
      type: 'webhook.test',
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      data: { endpointId: endpoint.id, message: expect.any(String) },
    });
    const event = await app.request(`/v1/events/${eventId}`, auth(merchant.apiKey));
    expect(await event.json()).toMatchObject({ id: eventId, type: 'webhook.test', payload });
  });

  it('makes a new event each time it is called', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);

    const a = await app.request(`/v1/endpoints/${endpoint.id}/test`, { method: 'POST', ...auth(merchant.apiKey) });
    const b = await app.request(`/v1/endpoints/${endpoint.id}/test`, { method: 'POST', ...auth(merchant.apiKey) });

    const [x, y] = [(await a.json()) as { eventId: string }, (await b.json()) as { eventId: string }];
    expect(x.eventId).not.toBe(y.eventId);
  });

  it('answers 409 conflict for a disabled endpoint and emits nothing', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { status: 'disabled' }, merchant.apiKey));

    const res = await app.request(`/v1/endpoints/${endpoint.id}/test`, { method: 'POST', ...auth(merchant.apiKey) });

    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 409, code: 'conflict' });
    expect(await eventCount(merchant.id)).toBe(0);
  });
});

describe('POST /v1/events/{id}/redeliver', () => {
  it('sends a succeeded event again as a second attempt with the same webhook-id and no new message', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { eventId, messageId } = await emitOne(merchant.id);
    await deliverMessage(deps, { messageId, attempt: 1 });
    expect(await messageRow(messageId)).toMatchObject({ status: 'succeeded', attempts: 1 });

    const before = Date.now();
    const res = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', {}, merchant.apiKey));

    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ messages: [messageId] });
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 1 });
    const job = (await deliverJobs(messageId)).find((j) => j.payload.attempt === 2);
    expect(job?.run_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(job!.run_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    await deliverMessage(deps, { messageId, attempt: 2 });

    expect(await messagesOfEvent(eventId)).toMatchObject([{ id: messageId, status: 'succeeded', attempts: 2 }]);
    expect((await attemptRows(messageId)).map((a) => [a.attempt_number, a.status])).toEqual([
      [1, 'succeeded'],
      [2, 'succeeded'],
    ]);
    expect(r.received).toHaveLength(2);
    expect(r.received.map((q) => q.headers['webhook-id'])).toEqual([messageId, messageId]);
    expect(() => new Webhook(endpoint.secret).verify(r.received[1]!.body, flatHeaders(r.received[1]!))).not.toThrow();
  });

  it('requeues only the named endpoint’s message when endpointId is given', async () => {
    const a = await receiver();
    const b = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, a.url);
    await createEndpoint(app, merchant.apiKey, b.url);
    const { eventId, messageIds } = await emit(merchant.id);
    expect(messageIds).toHaveLength(2);
    for (const messageId of messageIds) await deliverMessage(deps, { messageId, attempt: 1 });
    const mine = (await messagesOfEvent(eventId)).find((m) => m.endpoint_id === endpoint.id)!;
    const other = (await messagesOfEvent(eventId)).find((m) => m.endpoint_id !== endpoint.id)!;

    const res = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', { endpointId: endpoint.id }, merchant.apiKey));

    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ messages: [mine.id] });
    expect(await attemptsQueued(mine.id)).toEqual([1, 2]);
    expect(await attemptsQueued(other.id)).toEqual([1]);
    expect(await messageRow(other.id)).toMatchObject({ status: 'succeeded' });
  });

  it('gives a subscribed endpoint made after the event its first message, once, and 404s one whose eventTypes exclude the event', async () => {
    const first = await receiver();
    const late = await receiver();
    const { app, merchant } = await merchantWithEndpoint(deps, first.url);
    const { eventId } = await emitOne(merchant.id);
    const newcomer = await createEndpoint(app, merchant.apiKey, late.url);
    const refundsOnly = await createEndpoint(app, merchant.apiKey, late.url, { eventTypes: ['payment.refunded'] });

    const res = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', { endpointId: newcomer.id }, merchant.apiKey));

    expect(res.status).toBe(202);
    const { messages } = (await res.json()) as { messages: string[] };
    expect(messages).toHaveLength(1);
    expect(await messageRow(messages[0]!)).toMatchObject({ endpoint_id: newcomer.id, status: 'pending', attempts: 0 });
    expect(await attemptsQueued(messages[0]!)).toEqual([1]);
    await deliverMessage(deps, { messageId: messages[0]!, attempt: 1 });
    expect(late.received).toHaveLength(1);

    const again = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', { endpointId: newcomer.id }, merchant.apiKey));
    expect(await again.json()).toEqual({ messages });
    expect(await messagesOfEvent(eventId)).toHaveLength(2);

    const refused = await app.request(
      `/v1/events/${eventId}/redeliver`,
      jsonRequest('POST', { endpointId: refundsOnly.id }, merchant.apiKey),
    );
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ code: 'not_found' });
    expect(await messagesOfEvent(eventId)).toHaveLength(2);
  });

  it('gives a message past the retry schedule exactly one more attempt', async () => {
    const r = await receiver(() => 500);
    const { app, merchant } = await merchantWithEndpoint(deps, r.url);
    const { eventId, messageId } = await emitOne(merchant.id);
    await exhaust(deps, messageId);

    const res = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', {}, merchant.apiKey));
    expect(res.status).toBe(202);
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 4 });
    expect(await attemptsQueued(messageId)).toEqual([1, 2, 3, 4, 5]);

    await deliverMessage(deps, { messageId, attempt: 5 });

    expect(r.received).toHaveLength(5);
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', attempts: 5, next_attempt_at: null });
    expect(await attemptsQueued(messageId)).toEqual([1, 2, 3, 4, 5]);
  });

  it('leaves messages to disabled endpoints alone, and answers 409 conflict when the disabled endpoint is named', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { eventId, messageId } = await emitOne(merchant.id);
    await deliverMessage(deps, { messageId, attempt: 1 });
    await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { status: 'disabled' }, merchant.apiKey));

    const all = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', {}, merchant.apiKey));
    expect(all.status).toBe(202);
    expect(await all.json()).toEqual({ messages: [] });

    const named = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', { endpointId: endpoint.id }, merchant.apiKey));
    expect(named.status).toBe(409);
    expect(await named.json()).toMatchObject({ code: 'conflict' });
    expect(await messageRow(messageId)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await attemptsQueued(messageId)).toEqual([1]);
  });

  it('answers 404 for an unknown event or endpoint and 400 for a bad body', async () => {
    const r = await receiver();
    const { app, merchant } = await merchantWithEndpoint(deps, r.url);
    const { eventId } = await emitOne(merchant.id);

    const unknownEvent = await app.request(
      '/v1/events/evt_00000000000000000000000000000000/redeliver',
      jsonRequest('POST', {}, merchant.apiKey),
    );
    expect(unknownEvent.status).toBe(404);
    const unknownEndpoint = await app.request(
      `/v1/events/${eventId}/redeliver`,
      jsonRequest('POST', { endpointId: 'ep_00000000000000000000000000000000' }, merchant.apiKey),
    );
    expect(unknownEndpoint.status).toBe(404);
    for (const body of [{ endpointId: 5 }, { endpointId: '' }, { everything: true }]) {
      const res = await app.request(`/v1/events/${eventId}/redeliver`, jsonRequest('POST', body, merchant.apiKey));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'invalid_request' });
    }
  });
});

describe('POST /v1/endpoints/{id}/recover', () => {
  it('makes failed messages pending with one more attempt, and they succeed once the receiver answers 200', async () => {
    const r = await receiver((n) => (n < 4 ? 500 : 200));
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);
    await exhaust(deps, messageId);

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const res = await app.request(`/v1/endpoints/${endpoint.id}/recover`, jsonRequest('POST', { since }, merchant.apiKey));

    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ messages: 1 });
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 4 });
    expect(await attemptsQueued(messageId)).toEqual([1, 2, 3, 4, 5]);

    await deliverMessage(deps, { messageId, attempt: 5 });

    expect(await messageRow(messageId)).toMatchObject({ status: 'succeeded', attempts: 5, next_attempt_at: null });
    expect(r.received).toHaveLength(5);
    expect(new Set(r.received.map((q) => q.headers['webhook-id']))).toEqual(new Set([messageId]));
    expect(() => new Webhook(endpoint.secret).verify(r.received[4]!.body, flatHeaders(r.received[4]!))).not.toThrow();
  });

  it('takes only failed messages created at or after since, with offsets other than Z accepted', async () => {
    const r = await receiver(() => 500);
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const tooOld = (await emitOne(merchant.id)).messageId;
    const onTheDot = (await emitOne(merchant.id)).messageId;
    const stillPending = (await emitOne(merchant.id)).messageId;
    await exhaust(deps, tooOld);
    await exhaust(deps, onTheDot);
    await deliverMessage(deps, { messageId: stillPending, attempt: 1 });
    const since = new Date(Date.now() - 3_600_000);
    since.setUTCMilliseconds(0);
    await db.sql`update gw.messages set created_at = ${new Date(since.getTime() - 1)} where id = ${tooOld}`;
    await db.sql`update gw.messages set created_at = ${since} where id = ${onTheDot}`;
    // The same instant written at +02:00.
    const local = new Date(since.getTime() + 2 * 3_600_000).toISOString().replace('.000Z', '+02:00');

    const res = await app.request(`/v1/endpoints/${endpoint.id}/recover`, jsonRequest('POST', { since: local }, merchant.apiKey));

    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ messages: 1 });
    expect(await messageRow(tooOld)).toMatchObject({ status: 'failed', attempts: 4 });
    expect(await messageRow(onTheDot)).toMatchObject({ status: 'pending', attempts: 4 });
    expect(await attemptsQueued(tooOld)).toEqual([1, 2, 3, 4]);
    expect(await attemptsQueued(onTheDot)).toEqual([1, 2, 3, 4, 5]);
    expect(await messageRow(stillPending)).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await attemptsQueued(stillPending)).toEqual([1, 2]);
  });

  it('answers 400 invalid_request for a since in the future, unparsable, without an offset or missing, and queues nothing', async () => {
    const r = await receiver(() => 500);
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);
    await exhaust(deps, messageId);

    for (const body of [
      { since: new Date(Date.now() + 3_600_000).toISOString() },
      { since: 'yesterday' },
      { since: '2024-13-01T00:00:00Z' },
      { since: '2024-01-01T00:00:00' },
      { since: 1_700_000_000 },
      {},
      { since: new Date(Date.now() - 1000).toISOString(), status: 'failed' },
    ]) {
      const res = await app.request(`/v1/endpoints/${endpoint.id}/recover`, jsonRequest('POST', body, merchant.apiKey));
      expect(res.status, JSON.stringify(body)).toBe(400);
      const problem = (await res.json()) as { code: string; errors: unknown[] };
      expect(problem.code).toBe('invalid_request');
      expect(problem.errors.length).toBeGreaterThan(0);
    }
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', attempts: 4 });
    expect(await attemptsQueued(messageId)).toEqual([1, 2, 3, 4]);
  });

  it('judges "in the future" by the injected clock', async () => {
    const t0 = new Date('2030-01-01T00:00:00.000Z');
    const r = await receiver();
    const { app, endpoint, merchant } = await merchantWithEndpoint(await testDeps(db, { clock: fixedClock(t0) }), r.url);

    const atClock = await app.request(
      `/v1/endpoints/${endpoint.id}/recover`,
      jsonRequest('POST', { since: t0.toISOString() }, merchant.apiKey),
    );
    const afterClock = await app.request(
      `/v1/endpoints/${endpoint.id}/recover`,
      jsonRequest('POST', { since: new Date(t0.getTime() + 1).toISOString() }, merchant.apiKey),
    );

    expect(atClock.status).toBe(202);
    expect(await atClock.json()).toEqual({ messages: 0 });
    expect(afterClock.status).toBe(400);
  });

  it('answers 409 conflict for a disabled endpoint and leaves its failed messages failed', async () => {
    const r = await receiver(() => 500);
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);
    await exhaust(deps, messageId);
    await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { status: 'disabled' }, merchant.apiKey));

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const res = await app.request(`/v1/endpoints/${endpoint.id}/recover`, jsonRequest('POST', { since }, merchant.apiKey));

    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: 'conflict' });
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', attempts: 4 });
  });
});
