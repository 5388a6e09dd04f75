// The inbound route with group commit (the Node app's batcher): many requests share one
// statement and one commit, and whatever happens to that commit, no request is told 200
// for an event that is not in the table.
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../src/core/db/client.js';
import type { AppDeps } from '../../src/app/http.js';
import type { Deps } from '../../src/core/deps.js';
import { Batcher, createInboundBatcher, storeInboundGroups, type BatchTimer, type InboundBatcher } from '../../src/inbound/batcher.js';
import type { NewInboundEvent, StoredInboundEvent } from '../../src/inbound/inbound-event-store.js';
import { SourceCache, type ResolvedSource } from '../../src/inbound/source-cache.js';
import { readIncomingBody } from '../../src/app/node/raw-body.js';
import { serve, type ServerType } from '@hono/node-server';
import { signAdyen, signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';
import { processJobCounts, processJobsFor } from '../process-jobs.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const STRIPE_SECRET = 'whsec_batch_test_secret_0123456789';
const ADYEN_KEY = randomBytes(32).toString('hex').toUpperCase();

let db: TestDatabase;
let base: Deps;
let stripeSourceId: string;
let adyenSourceId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  base = await testDeps(db);
  const app = testApp(base);
  const merchant = await aMerchant(base);
  const create = async (body: Record<string, unknown>) => {
    const res = await app.request('/v1/sources', jsonRequest('POST', body, merchant.apiKey));
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  stripeSourceId = await create({ provider: 'stripe', secret: STRIPE_SECRET });
  adyenSourceId = await create({ provider: 'adyen', secret: ADYEN_KEY });
});
afterAll(async () => db.drop());

/** An app whose inbound route batches on `sql` with `batcher`, and caches sources. */
function batchingApp(sql: Sql, batcher: InboundBatcher) {
  const deps: AppDeps = {
    ...base,
    sql,
    inboundBatcher: batcher,
    sourceCache: new SourceCache<ResolvedSource | undefined>({ ttlMs: 60_000 }),
  };
  return testApp(deps);
}

/** A new Stripe event, serialised once: its id and body. */
function stripeEvent(): { eventId: string; body: string } {
  const event = buildStripeEvent('payment_intent.succeeded', { amount: 1000 });
  return { eventId: event.id as string, body: JSON.stringify(event) };
}

async function postStripe(app: ReturnType<typeof testApp>, body: string): Promise<Response> {
  return app.request(`/inbound/${stripeSourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, new Date()) },
    body,
  });
}

/** The stored event ids among `eventIds` (any source). */
async function storedIds(eventIds: string[]): Promise<Set<string>> {
  const rows = await db.sql<{ event_id: string }[]>`select event_id from gw.inbound_events where event_id = any(${eventIds}::text[])`;
  return new Set(rows.map((r) => r.event_id));
}

/** A timer the test fires by hand: the batch leaves when the test says so. */
function heldTimer(): BatchTimer & { fire(): void } {
  const armed = new Set<() => void>();
  return {
    set(fn) {
      armed.add(fn);
      return fn;
    },
    clear(handle) {
      armed.delete(handle as () => void);
    },
    fire() {
      const fns = [...armed];
      armed.clear();
      for (const f of fns) f();
    },
  };
}

/**
 * A TCP proxy in front of the test's PostgreSQL that the test can cut: `cut()` stops
 * listening (new connections are refused) and destroys the open ones, like a database
 * host that went away. (Accepting and then closing at once would not do: postgres.js
 * waits forever on a socket closed before the startup message is answered.)
 */
async function pgProxy(targetUrl: string): Promise<{ url: string; cut(): void; silence(): void; close(): Promise<void> }> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    cut() {
      down = true;
      server.close();
      for (const s of sockets) s.destroy();
    },
    /** The database goes silent: connections stay open, nothing more passes either way. */
    silence() {
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy(); // a silenced connection would keep the server open
        if (server.listening) server.close(() => r());
        else r();
      }),
  };
}

describe('POST /inbound/{sourceId} with group commit', () => {
  it('stores each of many concurrent events once, each in one job, flags the duplicates, and answers every 200 only for a stored row', async () => {
    const batcher = createInboundBatcher(db.sql, { maxWeight: 16, windowMs: 2, maxInFlight: 2 });
    const app = batchingApp(db.sql, batcher);
    const events = Array.from({ length: 60 }, stripeEvent);
    // Every third event is posted three times, all at once: PSP retries racing each other.
    const sends = events.flatMap((e, i) => (i % 3 === 0 ? [e, e, e] : [e]));
    // An Adyen notification of two items joins as one group, and its copy races it.
    const item = (eventCode: string) => ({
      NotificationRequestItem: {
        pspReference: `PSP${randomBytes(4).toString('hex')}`,
        merchantAccountCode: 'AcmeECOM',
        merchantReference: 'order-9',
        amount: { value: 1500, currency: 'EUR' },
        eventCode,
        success: 'true',
      },
    });
    const items = [item('AUTHORISATION'), item('CAPTURE')];
    const adyenBody = await signAdyen({ live: 'false', notificationItems: items }, ADYEN_KEY);
    const adyenIds = items.map((i) => `${i.NotificationRequestItem.pspReference}:${i.NotificationRequestItem.eventCode}:true`);
    const postAdyen = () =>
      app.request(`/inbound/${adyenSourceId}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: adyenBody });

    const [stripeResponses, adyenResponses] = await Promise.all([
      Promise.all(sends.map(async (e) => ({ eventId: e.eventId, res: await postStripe(app, e.body) }))),
      Promise.all([postAdyen(), postAdyen()]),
    ]);

    const answers = await Promise.all(
      stripeResponses.map(async ({ eventId, res }) => ({
        eventId,
        status: res.status,
        body: (await res.json()) as { received: boolean; duplicate: boolean },
      })),
    );
    expect(answers.every((a) => a.status === 200 && a.body.received === true)).toBe(true);
    for (const res of adyenResponses) {
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('[accepted]');
    }
    // Exactly one answer per event says "new"; its copies say duplicate.
    for (const e of events) {
      const mine = answers.filter((a) => a.eventId === e.eventId);
      expect(mine.filter((a) => !a.body.duplicate)).toHaveLength(1);
    }
    const all = [...events.map((e) => e.eventId), ...adyenIds];
    expect(await storedIds(all)).toEqual(new Set(all));
    const rows = await db.sql<
      { id: string; event_id: string }[]
    >`select id, event_id from gw.inbound_events where event_id = any(${all}::text[])`;
    expect(rows).toHaveLength(all.length); // one row per event id
    const jobs = await processJobCounts(db.sql);
    for (const row of rows) expect(jobs.get(row.id)).toBe(1);
    expect(batcher.stats).toMatchObject({ waiting: 0, inFlight: 0 });
  });

  it('queues ONE processing job per batch, carrying the ids of the rows the batch inserted (not its duplicates), in id order', async () => {
    const timer = heldTimer();
    const batcher = createInboundBatcher(db.sql, { maxWeight: 100, windowMs: 1, maxInFlight: 2, timer });
    const app = batchingApp(db.sql, batcher);
    const old = stripeEvent();
    expect((await postStripe(testApp(base), old.body)).status).toBe(200); // stored before, unbatched
    const events = Array.from({ length: 5 }, stripeEvent);
    const pending = [...events, old].map((e) => postStripe(app, e.body));
    await eventually(async () => (batcher.stats.waiting === events.length + 1 ? true : undefined), 10_000, 'all requests queued');
    timer.fire();
    const answers = await Promise.all(pending.map(async (p) => (await p).json() as Promise<{ duplicate: boolean }>));
    expect(answers.map((a) => a.duplicate)).toEqual([false, false, false, false, false, true]);

    const rows = await db.sql<{ id: string; event_id: string }[]>`
      select id, event_id from gw.inbound_events where event_id = any(${events.map((e) => e.eventId)}::text[]) order by id`;
    expect(rows).toHaveLength(5);
    const jobs = await processJobsFor(db.sql, rows[0]!.id);
    expect(jobs).toEqual([{ key: null, ids: rows.map((r) => r.id) }]);
    const [oldRow] = await db.sql<{ id: string }[]>`select id from gw.inbound_events where event_id = ${old.eventId}`;
    expect(await processJobsFor(db.sql, oldRow!.id)).toEqual([{ key: null, ids: [oldRow!.id] }]); // its own job, from the first post
  });

  it('answers 503 store_unavailable to every request of a batch whose database went away, and stores none of them', async () => {
    const proxy = await pgProxy(db.url);
    const sql = createSql(proxy.url, { max: 2 });
    try {
      const timer = heldTimer();
      const batcher = createInboundBatcher(sql, { maxWeight: 100, windowMs: 1, maxInFlight: 2, timer });
      const app = batchingApp(sql, batcher);
      // A first request through the proxy: the source is now cached and the pool connected.
      const warm = stripeEvent();
      const warmed = postStripe(app, warm.body);
      await eventually(async () => (batcher.stats.waiting === 1 ? true : undefined), 10_000, 'first request queued');
      timer.fire();
      expect((await warmed).status).toBe(200);

      const events = Array.from({ length: 12 }, stripeEvent);
      const pending = events.map((e) => postStripe(app, e.body));
      await eventually(async () => (batcher.stats.waiting === events.length ? true : undefined), 10_000, 'all requests queued');
      proxy.cut();
      timer.fire();
      const responses = await Promise.all(pending);
      for (const res of responses) {
        expect(res.status).toBe(503);
        expect(((await res.json()) as { code: string }).code).toBe('store_unavailable');
      }
      expect(await storedIds(events.map((e) => e.eventId))).toEqual(new Set());
      expect(await storedIds([warm.eventId])).toEqual(new Set([warm.eventId]));
    } finally {
      await sql.end({ timeout: 0 });
      await proxy.close();
    }
  });

  it('answers 503 store_unavailable once SWITCHYARD_INBOUND_STORE_TIMEOUT_MS has passed when the database stops answering, without holding the request longer', async () => {
    const proxy = await pgProxy(db.url);
    const sql = createSql(proxy.url, { max: 2 });
    try {
      const batcher = createInboundBatcher(sql, { maxWeight: 100, windowMs: 1, maxInFlight: 2 });
      const deps: AppDeps = {
        ...base,
        sql,
        inboundBatcher: batcher,
        sourceCache: new SourceCache<ResolvedSource | undefined>({ ttlMs: 60_000 }),
        config: { ...base.config, SWITCHYARD_INBOUND_STORE_TIMEOUT_MS: 300 },
      };
      const app = testApp(deps);
      const warm = stripeEvent();
      expect((await postStripe(app, warm.body)).status).toBe(200); // pool connected, source cached
      proxy.silence();

      const silent = stripeEvent();
      const started = Date.now();
      const res = await postStripe(app, silent.body);
      const tookMs = Date.now() - started;
      expect(res.status).toBe(503);
      expect(((await res.json()) as { code: string }).code).toBe('store_unavailable');
      expect(tookMs).toBeGreaterThanOrEqual(290);
      expect(tookMs).toBeLessThan(5_000);
      expect(await storedIds([silent.eventId])).toEqual(new Set());
    } finally {
      await sql.end({ timeout: 0 });
      await proxy.close();
    }
  });

  it('never answers 200 for an event that is not in the table when the database goes away in the middle of a stream of batches', async () => {
    const proxy = await pgProxy(db.url);
    // No reconnection backoff: the batches after the cut fail at once instead of after
    // postgres.js's growing delays.
    const sql = postgres(proxy.url, { max: 3, backoff: () => 0, onnotice: () => {} });
    try {
      // One batch at a time, eight rows each; the connection is cut while the fourth
      // batch's statement is on its way (it may or may not have reached PostgreSQL).
      let sent = 0;
      const batcher: InboundBatcher = new Batcher<NewInboundEvent[], StoredInboundEvent[]>({
        maxWeight: 8,
        windowMs: 1,
        maxInFlight: 1,
        weight: (g) => g.length,
        run(groups) {
          const stored = storeInboundGroups(sql, groups);
          if (++sent === 4) setTimeout(() => proxy.cut(), 0);
          return stored;
        },
      });
      const app = batchingApp(sql, batcher);
      const events = Array.from({ length: 100 }, stripeEvent);
      const responses = await Promise.all(events.map(async (e) => ({ eventId: e.eventId, res: await postStripe(app, e.body) })));
      const stored = await storedIds(events.map((e) => e.eventId));
      for (const { eventId, res } of responses) {
        expect([200, 503]).toContain(res.status);
        // 200 only for a stored event. A 503 may still have been stored (committed, but the
        // answer was lost with the connection): the PSP's retry is then acked as a duplicate.
        if (res.status === 200) expect(stored.has(eventId)).toBe(true);
      }
      expect(sent).toBeGreaterThan(4); // batches after the cut were tried and refused
      expect(responses.filter((r) => r.res.status === 200).length).toBeGreaterThanOrEqual(3);
      expect(responses.filter((r) => r.res.status === 503).length).toBeGreaterThan(0);
    } finally {
      await sql.end({ timeout: 0 });
      await proxy.close();
    }
  });

  it("reads the body straight from Node's request on @hono/node-server: stores it byte for byte, and refuses an oversize body, declared or streamed, with 413", async () => {
    const batcher = createInboundBatcher(db.sql, { maxWeight: 100, windowMs: 1, maxInFlight: 2 });
    const deps: AppDeps = {
      ...base,
      config: { ...base.config, SWITCHYARD_INBOUND_MAX_BYTES: 4096 },
      inboundBatcher: batcher,
      readRawBody(env, max) {
        const read = readIncomingBody(env, max);
        if (read) direct += 1;
        return read;
      },
    };
    let direct = 0;
    const app = testApp(deps);
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inbound/${stripeSourceId}`;
    try {
      const event = buildStripeEvent('payment_intent.succeeded', {
        amount: 1000,
        base: { paymentIntent: { object: 'payment_intent', livemode: false, metadata: {}, description: 'Crème brûlée ☕' } },
      });
      const body = JSON.stringify(event);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, new Date()) },
        body,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: true, duplicate: false });
      const [row] = await db.sql<{ raw_body: Uint8Array }[]>`
        select b.raw_body from gw.inbound_events i join gw.inbound_event_bodies b on b.inbound_event_id = i.id
         where i.event_id = ${event.id as string}`;
      expect(Buffer.from(row!.raw_body).equals(Buffer.from(body, 'utf8'))).toBe(true);

      const big = 'x'.repeat(5000);
      const declared = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
        body: big,
      });
      expect(declared.status).toBe(413);
      expect(((await declared.json()) as { code: string }).code).toBe('payload_too_large');
      // No Content-Length: chunks until the cap is passed.
      const chunks = [new TextEncoder().encode(big.slice(0, 2500)), new TextEncoder().encode(big.slice(2500))];
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      });
      const streamed = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      expect(direct).toBe(3); // every body was read from the IncomingMessage, none through a Web Request
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
