// Outbound delivery end to end, short of a graphile runner: an endpoint made through the
// API, an event emitted into the real database, `deliverMessage` called as the worker
// would, and a real HTTP receiver on 127.0.0.1 (docs/http-api.md "Endpoints", "Outbound
// webhooks", "Events and attempts").
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach, type Received } from '../receiver.js';

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

/** A raw HTTP server for answers startReceiver cannot give (headers, or none at all). */
async function rawServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${port}/hooks`, requests: () => requests };
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just freed). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hooks`;
}

interface CreatedEndpoint {
  id: string;
  url: string;
  status: string;
  eventTypes: string[] | null;
  secret: string;
}

/** A new merchant with one endpoint at `url`, created through the API with `d`. */
async function merchantWithEndpoint(d: Deps, url: string, extra: Record<string, unknown> = {}) {
  const app = testApp(d);
  const merchant = await aMerchant(d);
  const res = await app.request('/v1/endpoints', jsonRequest('POST', { url, ...extra }, merchant.apiKey));
  expect(res.status).toBe(201);
  const endpoint = (await res.json()) as CreatedEndpoint;
  expect(endpoint.secret).toMatch(/^whsec_/);
  return { app, merchant, endpoint };
}

let dedupe = 0;
const capturedData = { paymentId: 'pay_test', amount: 1099, currency: 'USD', note: 'café ✓' };

/** Emits one event to the merchant; returns its id and message ids. */
async function emit(merchantId: string, type = 'payment.captured', at = new Date()) {
  const emitted = await emitEvent(db.sql, {
    merchantId,
    type,
    paymentId: null,
    dedupeKey: `deliver-test-${++dedupe}`,
    data: capturedData,
    at,
  });
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
  status: string;
  attempts: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
}
async function messageRow(id: string): Promise<MessageRow> {
  const [row] = await db.sql<MessageRow[]>`
    select status, attempts, next_attempt_at, last_attempt_at from gw.messages where id = ${id}`;
  expect(row).toBeDefined();
  return row!;
}

interface AttemptDbRow {
  attempt_number: number;
  status: string;
  response_status: number | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number;
  attempted_at: Date;
  next_attempt_at: Date | null;
}
async function attemptRows(messageId: string): Promise<AttemptDbRow[]> {
  return db.sql<AttemptDbRow[]>`
    select a.attempt_number, a.status, a.response_status, b.response_body, a.error, a.duration_ms, a.attempted_at, a.next_attempt_at
      from gw.attempts a
      left join gw.attempt_response_bodies b on b.attempt_id = a.id
     where a.message_id = ${messageId} order by a.attempt_number`;
}

interface JobRow {
  payload: { messageId: string; attempt: number };
  run_at: Date;
  key: string | null;
}
/**
 * The deliver_message attempts queued for a message (graphile-worker 0.16 private tables),
 * by attempt, with their job's run_at and key: a job's payload is one attempt or an array
 * of them (a batch).
 */
async function deliverJobs(messageId: string): Promise<JobRow[]> {
  return db.sql<JobRow[]>`
    select e.value as payload, j.run_at, j.key
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     cross join lateral json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
     where t.identifier = 'deliver_message' and e.value ->> 'messageId' = ${messageId}
     order by (e.value ->> 'attempt')::int`;
}

/** Request headers as the flat record `standardwebhooks` expects. */
function flatHeaders(r: Received): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

describe('delivering a message to an endpoint that answers 200', () => {
  it('marks the message succeeded and records one succeeded attempt with the response', async () => {
    const r = await receiver(() => 200);
    const { merchant } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);

    await deliverMessage(deps, { messageId, attempt: 1 });

    const m = await messageRow(messageId);
    expect(m).toMatchObject({ status: 'succeeded', attempts: 1, next_attempt_at: null });
    expect(m.last_attempt_at).toBeInstanceOf(Date);
    const attempts = await attemptRows(messageId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      attempt_number: 1,
      status: 'succeeded',
      response_status: 200,
      response_body: 'ok',
      error: null,
      next_attempt_at: null,
    });
    expect(attempts[0]!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(await deliverJobs(messageId)).toHaveLength(1); // only the first attempt's job, nothing queued after
  });

  it('sends the Standard Webhooks headers and the stored payload bytes, and the official verifier accepts them', async () => {
    const r = await receiver(() => 200);
    const { merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const at = new Date();
    const { eventId, messageId } = await emitOne(merchant.id, at);
    const before = Math.floor(Date.now() / 1000);

    await deliverMessage(deps, { messageId, attempt: 1 });

    expect(r.received).toHaveLength(1);
    const req = r.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/hooks');
    expect(req.headers['webhook-id']).toBe(messageId);
    expect(messageId).toMatch(/^msg_/);
    const ts = Number(req.headers['webhook-timestamp']);
    expect(Number.isInteger(ts)).toBe(true);
    expect(ts).toBeGreaterThanOrEqual(before - 1);
    expect(ts).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^Switchyard\//);

    const [event] = await db.sql<{ payload: Uint8Array }[]>`select payload from gw.event_payloads where event_id = ${eventId}`;
    expect(req.body.toString('hex')).toBe(Buffer.from(event!.payload).toString('hex'));

    const verified = new Webhook(endpoint.secret).verify(req.body, flatHeaders(req));
    expect(verified).toEqual({ type: 'payment.captured', timestamp: at.toISOString(), data: capturedData });
    // A different secret does not verify: the signature really depends on the endpoint's key.
    const other = await merchantWithEndpoint(deps, r.url);
    expect(() => new Webhook(other.endpoint.secret).verify(req.body, flatHeaders(req))).toThrow();
  });
});

describe('retrying after a failure', () => {
  it('records a failed attempt on a 500, keeps the message pending and queues attempt 2 about 1 s later', async () => {
    const r = await receiver((n) => (n === 0 ? 500 : 200));
    const { merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);

    const before = Date.now();
    await deliverMessage(deps, { messageId, attempt: 1 });
    const after = Date.now();

    const [first] = await attemptRows(messageId);
    expect(first).toMatchObject({ attempt_number: 1, status: 'failed', response_status: 500, response_body: 'ok' });
    const m = await messageRow(messageId);
    expect(m).toMatchObject({ status: 'pending', attempts: 1 });
    const next = m.next_attempt_at!.getTime();
    expect(next).toBeGreaterThanOrEqual(before + 800);
    expect(next).toBeLessThanOrEqual(after + 1200);
    const delay = next - first!.attempted_at.getTime();
    expect(delay).toBeGreaterThanOrEqual(800);
    expect(delay).toBeLessThanOrEqual(1200);
    expect(first!.next_attempt_at?.getTime()).toBe(next);

    const jobs = await deliverJobs(messageId);
    const second = jobs.find((j) => j.payload.attempt === 2);
    expect(second).toBeDefined();
    expect(second!.payload).toEqual({ messageId, attempt: 2 });
    expect(second!.run_at.getTime()).toBe(next);

    await deliverMessage(deps, { messageId, attempt: 2 });

    expect(await messageRow(messageId)).toMatchObject({ status: 'succeeded', attempts: 2, next_attempt_at: null });
    const attempts = await attemptRows(messageId);
    expect(attempts.map((a) => [a.attempt_number, a.status, a.response_status])).toEqual([
      [1, 'failed', 500],
      [2, 'succeeded', 200],
    ]);
    expect(r.received).toHaveLength(2);
    expect(r.received[0]!.headers['webhook-id']).toBe(messageId);
    expect(r.received[1]!.headers['webhook-id']).toBe(r.received[0]!.headers['webhook-id']);
    // The retry is signed afresh and still verifies.
    expect(() => new Webhook(endpoint.secret).verify(r.received[1]!.body, flatHeaders(r.received[1]!))).not.toThrow();
  });

  it('sends nothing and records nothing when an attempt that was already recorded runs again', async () => {
    const r = await receiver(() => 500);
    const { merchant } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);

    await deliverMessage(deps, { messageId, attempt: 1 });
    const messageAfterFirst = await messageRow(messageId);
    const attemptsAfterFirst = await attemptRows(messageId);
    const jobsAfterFirst = await deliverJobs(messageId);
    expect(r.received).toHaveLength(1);

    await deliverMessage(deps, { messageId, attempt: 1 });

    expect(r.received).toHaveLength(1);
    expect(await messageRow(messageId)).toEqual(messageAfterFirst);
    expect(await attemptRows(messageId)).toEqual(attemptsAfterFirst);
    expect(await deliverJobs(messageId)).toEqual(jobsAfterFirst);
  });

  it('fails the message after the 4 attempts of the schedule, with no next attempt and no further job', async () => {
    const r = await receiver(() => 500);
    const { merchant } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);

    for (const attempt of [1, 2, 3]) {
      await deliverMessage(deps, { messageId, attempt });
      expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: attempt });
    }
    await deliverMessage(deps, { messageId, attempt: 4 });

    expect(r.received).toHaveLength(4);
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', attempts: 4, next_attempt_at: null });
    const attempts = await attemptRows(messageId);
    expect(attempts.map((a) => a.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    expect(attempts[3]!.next_attempt_at).toBeNull();
    expect((await deliverJobs(messageId)).map((j) => j.payload.attempt)).toEqual([1, 2, 3, 4]);

    await deliverMessage(deps, { messageId, attempt: 5 });
    expect(r.received).toHaveLength(4);
    expect(await attemptRows(messageId)).toHaveLength(4);
  });

  it('disables the endpoint at once and fails the message on a 410 Gone', async () => {
    const r = await receiver(() => 410);
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);

    await deliverMessage(deps, { messageId, attempt: 1 });

    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', attempts: 1, next_attempt_at: null });
    expect(await attemptRows(messageId)).toMatchObject([{ status: 'failed', response_status: 410, next_attempt_at: null }]);
    expect((await deliverJobs(messageId)).map((j) => j.payload.attempt)).toEqual([1]);
    const res = await app.request(`/v1/endpoints/${endpoint.id}`, { headers: { authorization: `Bearer ${merchant.apiKey}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: endpoint.id, status: 'disabled' });
    // A disabled endpoint gets no new messages.
    expect((await emit(merchant.id)).messageIds).toEqual([]);
  });

  it('treats a 302 redirect as a failure and never requests the Location target', async () => {
    const target = await receiver(() => 200);
    const redirecting = await rawServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(302, { location: target.url }).end());
    });
    const { merchant } = await merchantWithEndpoint(deps, redirecting.url);
    const { messageId } = await emitOne(merchant.id);

    await deliverMessage(deps, { messageId, attempt: 1 });

    expect(redirecting.requests()).toBe(1);
    expect(target.received).toHaveLength(0);
    expect(await attemptRows(messageId)).toMatchObject([{ status: 'failed', response_status: 302 }]);
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 1 });
    expect((await deliverJobs(messageId)).map((j) => j.payload.attempt)).toEqual([1, 2]);
  });

  it('schedules the next attempt no earlier than Retry-After on a 429', async () => {
    const throttling = await rawServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(429, { 'retry-after': '120', 'content-type': 'text/plain' }).end('slow down'));
    });
    const { merchant } = await merchantWithEndpoint(deps, throttling.url);
    const { messageId } = await emitOne(merchant.id);

    const before = Date.now();
    await deliverMessage(deps, { messageId, attempt: 1 });

    const [attempt] = await attemptRows(messageId);
    expect(attempt).toMatchObject({ status: 'failed', response_status: 429, response_body: 'slow down' });
    const m = await messageRow(messageId);
    expect(m).toMatchObject({ status: 'pending', attempts: 1 });
    expect(m.next_attempt_at!.getTime()).toBeGreaterThanOrEqual(before + 120_000);
    expect(m.next_attempt_at!.getTime() - attempt!.attempted_at.getTime()).toBeGreaterThanOrEqual(120_000);
    const job = (await deliverJobs(messageId)).find((j) => j.payload.attempt === 2);
    expect(job?.run_at.getTime()).toBe(m.next_attempt_at!.getTime());
  });

  it("records a 'timeout' failure and retries when the endpoint never answers", async () => {
    const slow = await testDeps(db, { env: { SWITCHYARD_DELIVERY_TIMEOUT_MS: '300' } });
    const hanging = await rawServer((req) => {
      req.resume(); // read the request, never answer
    });
    const { merchant } = await merchantWithEndpoint(slow, hanging.url);
    const { messageId } = await emitOne(merchant.id);

    const started = Date.now();
    await deliverMessage(slow, { messageId, attempt: 1 });
    const took = Date.now() - started;

    expect(hanging.requests()).toBe(1);
    expect(took).toBeLessThan(5_000);
    const [attempt] = await attemptRows(messageId);
    expect(attempt).toMatchObject({ status: 'failed', error: 'timeout', response_status: null, response_body: null });
    expect(attempt!.duration_ms).toBeGreaterThanOrEqual(250);
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 1 });
    expect((await deliverJobs(messageId)).map((j) => j.payload.attempt)).toEqual([1, 2]);
  });

  it('records a failure with an error string and retries when the connection is refused', async () => {
    const { merchant } = await merchantWithEndpoint(deps, await closedPortUrl());
    const { messageId } = await emitOne(merchant.id);

    await deliverMessage(deps, { messageId, attempt: 1 });

    const [attempt] = await attemptRows(messageId);
    expect(attempt).toMatchObject({ status: 'failed', response_status: null, response_body: null });
    expect(attempt!.error).toBe('connection refused');
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 1 });
    expect((await deliverJobs(messageId)).map((j) => j.payload.attempt)).toEqual([1, 2]);
  });
});

describe('which endpoints get a message', () => {
  it('gives an endpoint subscribed to payment.refunded no message for payment.captured', async () => {
    const r = await receiver(() => 200);
    const { merchant, endpoint } = await merchantWithEndpoint(deps, r.url, { eventTypes: ['payment.refunded'] });
    expect(endpoint.eventTypes).toEqual(['payment.refunded']);

    const captured = await emit(merchant.id, 'payment.captured');
    expect(captured.messageIds).toEqual([]);
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.messages where event_id = ${captured.eventId}`;
    expect(n!.n).toBe(0);

    const refunded = await emit(merchant.id, 'payment.refunded');
    expect(refunded.messageIds).toHaveLength(1);
  });
});

describe('GET /v1/events/{id}/attempts', () => {
  it('lists every attempt with its outcome, and is 404 for another merchant', async () => {
    const r = await receiver((n) => (n === 0 ? 500 : 200));
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { eventId, messageId } = await emitOne(merchant.id);
    await deliverMessage(deps, { messageId, attempt: 1 });
    await deliverMessage(deps, { messageId, attempt: 2 });

    const res = await app.request(`/v1/events/${eventId}/attempts`, { headers: { authorization: `Bearer ${merchant.apiKey}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Record<string, unknown>[] };
    expect(body.data).toHaveLength(2);
    const iso = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(body.data[0]).toMatchObject({
      id: expect.stringMatching(/^att_/),
      endpointId: endpoint.id,
      status: 'failed',
      responseStatus: 500,
      responseBody: 'ok',
      durationMs: expect.any(Number),
      attemptedAt: iso,
      nextAttemptAt: iso,
    });
    expect(body.data[1]).toMatchObject({
      id: expect.stringMatching(/^att_/),
      endpointId: endpoint.id,
      status: 'succeeded',
      responseStatus: 200,
      responseBody: 'ok',
      durationMs: expect.any(Number),
      attemptedAt: iso,
      nextAttemptAt: null,
    });
    for (const a of body.data) {
      expect(Object.keys(a)).toEqual(
        expect.arrayContaining([
          'id',
          'endpointId',
          'status',
          'responseStatus',
          'responseBody',
          'durationMs',
          'attemptedAt',
          'nextAttemptAt',
        ]),
      );
    }

    const stranger = await aMerchant(deps, 'Stranger');
    const denied = await app.request(`/v1/events/${eventId}/attempts`, { headers: { authorization: `Bearer ${stranger.apiKey}` } });
    expect(denied.status).toBe(404);
    expect(await denied.json()).toMatchObject({ code: 'not_found' });
  });
});

describe('managing endpoints', () => {
  it('deletes an endpoint with 204, fails its pending messages, and answers 404 for it afterwards', async () => {
    const r = await receiver(() => 200);
    const { app, merchant, endpoint } = await merchantWithEndpoint(deps, r.url);
    const { messageId } = await emitOne(merchant.id);
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending' });
    const auth = { authorization: `Bearer ${merchant.apiKey}` };

    const deleted = await app.request(`/v1/endpoints/${endpoint.id}`, { method: 'DELETE', headers: auth });
    expect(deleted.status).toBe(204);

    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', next_attempt_at: null });
    const gone = await app.request(`/v1/endpoints/${endpoint.id}`, { headers: auth });
    expect(gone.status).toBe(404);
    // The queued first attempt finds the message failed and sends nothing.
    await deliverMessage(deps, { messageId, attempt: 1 });
    expect(r.received).toHaveLength(0);
    expect(await attemptRows(messageId)).toEqual([]);
  });

  it('refuses the cloud metadata address with 400 url_not_allowed when private URLs are not allowed', async () => {
    const strict = await testDeps(db, { env: { SWITCHYARD_ALLOW_PRIVATE_URLS: 'false' } });
    const app = testApp(strict);
    const merchant = await aMerchant(strict);

    const res = await app.request('/v1/endpoints', jsonRequest('POST', { url: 'http://169.254.169.254/' }, merchant.apiKey));

    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 400, code: 'url_not_allowed' });
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.endpoints where merchant_id = ${merchant.id}`;
    expect(n!.n).toBe(0);
  });
});
