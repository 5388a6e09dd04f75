// Batch delivery (src/outbound/deliver.task.ts `deliverMessages`, src/core/jobs/enqueue.ts
// `enqueueFirstAttempts`): first attempts to one endpoint merge into one graphile-worker job,
// a worker delivers them together, and every outcome keeps the single-attempt semantics
// (docs/http-api.md "Outbound webhooks"). Real database, real receivers on 127.0.0.1; the
// worker's task is called directly, as test/outbound/deliver.test.ts does.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { unlockAbandonedJobs } from '../../src/core/jobs/recovery.js';
import { deliverMessages } from '../../src/outbound/deliver.task.js';
import { emitEvent, emitEvents } from '../../src/core/events/outbox.js';
import type { DeliveryJob } from '../../src/core/jobs/catalog.js';
import { enqueueFirstAttempts, PUT_OFF_BUCKET_MS, PUT_OFF_MERGE_BELOW } from '../../src/core/jobs/enqueue.js';
import { postponeAttempts } from '../../src/outbound/delivery-store.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

interface JobRow {
  id: string;
  payload: DeliveryJob | DeliveryJob[];
  run_at: Date;
  key: string | null;
  attempts: number;
  max_attempts: number;
  locked_by: string | null;
}

/** The deliver_message jobs that name one of `messageIds` (graphile-worker 0.16 private tables), oldest first. */
async function jobsFor(messageIds: string[]): Promise<JobRow[]> {
  return db.sql<JobRow[]>`
    select j.id::text as id, j.payload, j.run_at, j.key, j.attempts, j.max_attempts, j.locked_by
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'deliver_message'
       and exists (select 1 from json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
                    where e.value ->> 'messageId' = any(${messageIds}::text[]))
     order by j.id`;
}

const entries = (p: DeliveryJob | DeliveryJob[]) => (Array.isArray(p) ? p : [p]);

/** Resolves a few ms after the wall clock's next whole second, so a short transaction stays within one second. */
function startOfNextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}

async function messageRows(ids: string[]) {
  return db.sql<{ id: string; status: string; attempts: number }[]>`
    select id, status, attempts from gw.messages where id = any(${ids}::text[]) order by id`;
}

/** A merchant with one endpoint at `url` (created through the API). */
async function merchantWithEndpoint(url: string): Promise<{ merchantId: string; endpointId: string }> {
  const merchant = await aMerchant(deps);
  const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url }, merchant.apiKey));
  expect(res.status).toBe(201);
  const endpoint = (await res.json()) as { id: string };
  return { merchantId: merchant.id, endpointId: endpoint.id };
}

let dedupe = 0;
/** Emits `n` events to the merchant in ONE transaction; returns their message ids, in order. */
async function emitMany(merchantId: string, n: number): Promise<string[]> {
  return db.sql.begin(async (tx) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = await emitEvent(tx, {
        merchantId,
        type: 'payment.captured',
        paymentId: null,
        dedupeKey: `batch-${++dedupe}`,
        data: { i },
        at: new Date(),
      });
      ids.push(...e!.messageIds);
    }
    return ids;
  });
}

/** The first-attempt entries queued for `messageIds`, from whatever jobs hold them. */
async function queuedEntries(messageIds: string[]): Promise<DeliveryJob[]> {
  return (await jobsFor(messageIds)).flatMap((j) => entries(j.payload)).filter((e) => messageIds.includes(e.messageId));
}

describe('first attempts queued in one transaction', () => {
  it('share one batch job, which one call delivers: one request per message with its own webhook-id, all recorded', async () => {
    const r = await receiver();
    const { merchantId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 5);

    const jobs = await jobsFor(ids);
    // One transaction and (almost always) one second: one job. Crossing a second boundary makes two.
    expect(jobs.length).toBeLessThanOrEqual(2);
    expect(jobs.every((j) => Array.isArray(j.payload) && j.key?.startsWith('deliver:'))).toBe(true);
    expect(await queuedEntries(ids)).toEqual(expect.arrayContaining(ids.map((messageId) => ({ messageId, attempt: 1 }))));

    await deliverMessages(deps, await queuedEntries(ids));

    expect(r.received.map((x) => x.headers['webhook-id']).sort()).toEqual([...ids].sort());
    expect(await messageRows(ids)).toEqual([...ids].sort().map((id) => ({ id, status: 'succeeded', attempts: 1 })));
    const attempts = await db.sql<{ n: number }[]>`
      select count(*)::int as n from gw.attempts where message_id = any(${ids}::text[]) and status = 'succeeded' and attempt_number = 1`;
    expect(attempts[0]!.n).toBe(5);
  });

  it('sends nothing for an attempt already recorded or named twice', async () => {
    const r = await receiver();
    const { merchantId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 3);
    const batch = ids.map((messageId) => ({ messageId, attempt: 1 }));

    await deliverMessages(deps, [...batch, batch[0]!]);
    expect(r.received).toHaveLength(3);
    await deliverMessages(deps, batch); // the job run again after a crash after the commit
    expect(r.received).toHaveLength(3);
    expect(await messageRows(ids)).toEqual([...ids].sort().map((id) => ({ id, status: 'succeeded', attempts: 1 })));
  });
});

describe('a batch whose endpoint fails', () => {
  it('records the failure with its own retry job and puts what was not yet sent in a new batch job', async () => {
    const r = await receiver((n) => (n === 1 ? 500 : 200)); // the second request fails
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    await db.sql`update gw.endpoints set max_in_flight = 1 where id = ${endpointId}`; // one at a time: a known order
    const ids = await emitMany(merchantId, 5);
    await db.sql`delete from graphile_worker._private_jobs`;

    await deliverMessages(
      deps,
      ids.map((messageId) => ({ messageId, attempt: 1 })),
    );

    expect(r.received.map((x) => x.headers['webhook-id'])).toEqual(ids.slice(0, 2));
    const rows = new Map((await messageRows(ids)).map((m) => [m.id, m]));
    expect(rows.get(ids[0]!)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(rows.get(ids[1]!)).toMatchObject({ status: 'pending', attempts: 1 });
    for (const id of ids.slice(2)) expect(rows.get(id)).toMatchObject({ status: 'pending', attempts: 0 });

    const jobs = await jobsFor(ids);
    const retry = jobs.find((j) => !Array.isArray(j.payload));
    expect(retry?.payload).toEqual({ messageId: ids[1], attempt: 2 });
    expect(retry?.key).toBe(`deliver:${ids[1]}:2`);
    const rest = jobs.filter((j) => Array.isArray(j.payload));
    expect(rest).toHaveLength(1);
    expect(rest[0]!.payload).toEqual(ids.slice(2).map((messageId) => ({ messageId, attempt: 1 })));
  });

  it('puts the whole batch off in one job, unsent and uncounted, while the circuit is open', async () => {
    const r = await receiver();
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 4);
    const openUntil = new Date(Date.now() + 60_000);
    await db.sql`update gw.endpoints set consecutive_failures = 10, failing_since = now(), circuit_open_until = ${openUntil} where id = ${endpointId}`;
    await db.sql`delete from graphile_worker._private_jobs`;

    await deliverMessages(
      deps,
      ids.map((messageId) => ({ messageId, attempt: 1 })),
    );

    expect(r.received).toHaveLength(0);
    expect(await messageRows(ids)).toEqual([...ids].sort().map((id) => ({ id, status: 'pending', attempts: 0 })));
    const jobs = await jobsFor(ids);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.payload).toEqual(ids.map((messageId) => ({ messageId, attempt: 1 })));
    expect(jobs[0]!.run_at.getTime()).toBeGreaterThanOrEqual(openUntil.getTime() - 1); // timestamptz keeps µs, Date ms
    expect(jobs[0]!.run_at.getTime()).toBeLessThanOrEqual(openUntil.getTime() + 250);
  });
});

describe('an event emitted to several endpoints', () => {
  it("queues every endpoint's first attempt in one call: one batch job per endpoint, and messages to one endpoint in one job", async () => {
    const r = await receiver();
    const merchant = await aMerchant(deps);
    const merchantId = merchant.id;
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: r.url }, merchant.apiKey));
      expect(res.status).toBe(201);
      created.push(((await res.json()) as { id: string }).id);
    }
    const endpointId = created[0]!;
    await startOfNextSecond(); // the job key ends in the clock's second
    const emitted = await db.sql.begin((tx) =>
      emitEvent(tx, { merchantId, type: 'payment.captured', paymentId: null, dedupeKey: 'fanout-1', data: { n: 1 }, at: new Date() }),
    );
    expect(emitted!.messageIds).toHaveLength(3);
    const jobs = await jobsFor(emitted!.messageIds);
    expect(jobs).toHaveLength(3);
    expect(jobs.map((j) => j.key!.split(':')[1]).sort()).toEqual([...created].sort());
    expect(jobs.every((j) => entries(j.payload).length === 1)).toBe(true);

    // Two messages to one endpoint, queued together: one job carrying both, in id order.
    const two = await emitMany(merchantId, 2);
    const [a, b] = (
      await db.sql<{ id: string }[]>`
      select id from gw.messages where id = any(${two}::text[]) and endpoint_id = ${endpointId} order by id`
    ).map((m) => m.id);
    await db.sql`delete from graphile_worker._private_jobs`;
    await startOfNextSecond();
    await db.sql.begin((tx) =>
      enqueueFirstAttempts(tx, [
        { messageId: b!, endpointId },
        { messageId: a!, endpointId },
      ]),
    );
    const [both] = await jobsFor([a!]);
    expect(both!.payload).toEqual([
      { messageId: a, attempt: 1 },
      { messageId: b, attempt: 1 },
    ]); // a < b
    expect(await jobsFor([b!])).toHaveLength(1);
  });
});

describe('attempts put off', () => {
  it("join their endpoint's put-off job for the time window they fall in: one job per endpoint and window, not one per attempt", async () => {
    const r = await receiver();
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 4);
    await db.sql`delete from graphile_worker._private_jobs`;
    const window = PUT_OFF_BUCKET_MS;
    const start = (Math.floor(Date.now() / window) + 2) * window; // a window that has not begun
    const at = (ms: number) => new Date(start + ms);

    await db.sql.begin((tx) => postponeAttempts(tx, { endpointId, attempts: [{ messageId: ids[0]!, attempt: 1 }], retryAt: at(100) }));
    await db.sql.begin((tx) =>
      postponeAttempts(tx, {
        endpointId,
        attempts: [
          { messageId: ids[1]!, attempt: 2 },
          { messageId: ids[2]!, attempt: 1 },
        ],
        retryAt: at(900),
      }),
    );
    await db.sql.begin((tx) =>
      postponeAttempts(tx, { endpointId, attempts: [{ messageId: ids[3]!, attempt: 1 }], retryAt: at(window + 10) }),
    );

    const jobs = await jobsFor(ids);
    expect(jobs).toHaveLength(2);
    expect(jobs[0]!.payload).toEqual([
      { messageId: ids[0], attempt: 1 },
      { messageId: ids[1], attempt: 2 },
      { messageId: ids[2], attempt: 1 },
    ]);
    expect(jobs[0]!.run_at.getTime()).toBe(start + 100); // the first attempt's time
    expect(jobs[0]!.key).toBe(`deliver:${endpointId}:later:${start / window}`);
    expect(jobs[1]!.payload).toEqual([{ messageId: ids[3], attempt: 1 }]);
    expect(await messageRows(ids)).toEqual([...ids].sort().map((id) => ({ id, status: 'pending', attempts: 0 })));
    const [next] = await db.sql<{ next_attempt_at: Date }[]>`select next_attempt_at from gw.messages where id = ${ids[1]!}`;
    expect(next!.next_attempt_at.getTime()).toBe(start + 900);

    // A put-off of PUT_OFF_MERGE_BELOW attempts or more gets a job of its own, unkeyed: merged
    // arrays stay short however long an endpoint keeps turning attempts away.
    const many = await emitMany(merchantId, PUT_OFF_MERGE_BELOW);
    await db.sql.begin((tx) =>
      postponeAttempts(tx, { endpointId, attempts: many.map((messageId) => ({ messageId, attempt: 1 })), retryAt: at(200) }),
    );
    const own = (await jobsFor(many)).filter((j) => j.run_at.getTime() === start + 200); // not their first-attempt job
    expect(own).toHaveLength(1);
    expect(own[0]!.key).toBeNull();
    expect(entries(own[0]!.payload)).toHaveLength(PUT_OFF_MERGE_BELOW);
    expect(await jobsFor([ids[0]!])).toHaveLength(1); // the window's job is as it was
    expect(entries((await jobsFor([ids[0]!]))[0]!.payload)).toHaveLength(3);
  });
});

describe('emitEvents', () => {
  it("stores many events in order, skips a dedupe key already used, and queues each endpoint's messages in one batch job, by event type", async () => {
    const r = await receiver();
    const merchant = await aMerchant(deps);
    const endpoint = async (eventTypes?: string[]) => {
      const res = await testApp(deps).request(
        '/v1/endpoints',
        jsonRequest('POST', { url: r.url, ...(eventTypes ? { eventTypes } : {}) }, merchant.apiKey),
      );
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const all = await endpoint();
    const refundsOnly = await endpoint(['payment.refunded']);
    const at = new Date();
    const ev = (type: string, key: string) => ({ merchantId: merchant.id, type, paymentId: null, dedupeKey: key, data: { key }, at });
    await db.sql.begin((tx) => emitEvents(tx, [ev('payment.captured', 'many-0')]));

    await startOfNextSecond(); // the batch job key ends in the clock's second
    const out = await db.sql.begin((tx) =>
      emitEvents(tx, [
        ev('payment.captured', 'many-1'),
        ev('payment.captured', 'many-0'),
        ev('payment.refunded', 'many-2'),
        ev('payment.refunded', 'many-2'),
      ]),
    );
    expect(out.map((o) => o?.messageIds.length)).toEqual([1, undefined, 2, undefined]);
    expect(out[0]!.eventId < out[2]!.eventId).toBe(true);
    const [body] = await db.sql<{ payload: Uint8Array }[]>`select payload from gw.event_payloads where event_id = ${out[2]!.eventId}`;
    expect(JSON.parse(Buffer.from(body!.payload).toString('utf8'))).toEqual({
      type: 'payment.refunded',
      timestamp: at.toISOString(),
      data: { key: 'many-2' },
    });

    const messageIds = [...out[0]!.messageIds, ...out[2]!.messageIds];
    const jobs = await jobsFor(messageIds);
    expect(jobs.map((j) => j.key!.split(':')[1]).sort()).toEqual([all, refundsOnly].sort());
    const rows = await db.sql<{ id: string; endpoint_id: string }[]>`
      select id, endpoint_id from gw.messages where id = any(${messageIds}::text[]) order by id`;
    const toAll = rows.filter((m) => m.endpoint_id === all).map((m) => m.id);
    expect(toAll).toHaveLength(2); // the capture and the refund
    expect(entries(jobs.find((j) => j.key!.split(':')[1] === all)!.payload).map((e) => e.messageId)).toEqual(toAll);
    expect(entries(jobs.find((j) => j.key!.split(':')[1] === refundsOnly)!.payload).map((e) => e.messageId)).toEqual(
      rows.filter((m) => m.endpoint_id === refundsOnly).map((m) => m.id),
    );
  });
});

describe('an event emitted to an endpoint that is held or whose circuit is open', () => {
  it.each(['held_until', 'circuit_open_until'] as const)(
    'queues its message in the put-off job for that time when %s is ahead, not in a first-attempt job now',
    async (column) => {
      const r = await receiver();
      const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
      const until = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10_000);
      await db.sql`update gw.endpoints set ${db.sql({ [column]: until })} where id = ${endpointId}`;

      const [messageId] = await emitMany(merchantId, 1);
      const jobs = await jobsFor([messageId!]);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.key).toMatch(new RegExp(`^deliver:${endpointId}:held:\\d+$`)); // a job per second of emitting
      expect(jobs[0]!.run_at.getTime()).toBe(until.getTime());
      expect(jobs[0]!.payload).toEqual([{ messageId, attempt: 1 }]);
      const [m] = await db.sql<
        { next_attempt_at: Date; attempts: number }[]
      >`select next_attempt_at, attempts from gw.messages where id = ${messageId!}`;
      expect(m).toEqual({ next_attempt_at: until, attempts: 0 });

      // Once that time has passed, events go out at once again.
      await db.sql`update gw.endpoints set ${db.sql({ [column]: new Date(Date.now() - 1000) })} where id = ${endpointId}`;
      const [later] = await emitMany(merchantId, 1);
      const [now] = await jobsFor([later!]);
      expect(now!.key).toMatch(new RegExp(`^deliver:${endpointId}:\\d:\\d+$`));
    },
  );
});

describe('attempts a run hands to another job', () => {
  /** `ids`' first-attempt batch job, locked as if `pool` had fetched it. */
  async function lockedBatch(ids: string[], pool: string): Promise<JobRow> {
    const jobs = await jobsFor(ids);
    expect(jobs).toHaveLength(1);
    await db.sql`update graphile_worker._private_jobs set locked_at = now(), locked_by = ${pool} where id = ${jobs[0]!.id}::bigint`;
    return jobs[0]!;
  }

  async function payloadOf(jobId: string): Promise<DeliveryJob[]> {
    const [row] = await db.sql<
      { payload: DeliveryJob | DeliveryJob[] }[]
    >`select payload from graphile_worker._private_jobs where id = ${jobId}::bigint`;
    return entries(row!.payload);
  }

  it('leave the job that ran them when put off, so a rerun of that job (a failure, an unlock) sends each once, beside the put-off job', async () => {
    const r = await receiver();
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 4);
    const batch = await lockedBatch(ids, 'pool-put-off');
    await db.sql`update gw.endpoints set consecutive_failures = 10, failing_since = now(), circuit_open_until = now() + interval '1 minute' where id = ${endpointId}`;

    await deliverMessages(deps, entries(batch.payload), undefined, { owner: { jobIds: [batch.id], lockedBy: 'pool-put-off' } });

    expect(r.received).toHaveLength(0);
    expect(await payloadOf(batch.id)).toEqual([]);
    const putOff = (await jobsFor(ids)).filter((j) => j.id !== batch.id);
    expect(putOff.flatMap((j) => entries(j.payload)).map((e) => e.messageId)).toEqual(ids);

    // The circuit closes; the job that ran is run again as it stands now, then the put-off job.
    await db.sql`update gw.endpoints set consecutive_failures = 0, failing_since = null, circuit_open_until = null where id = ${endpointId}`;
    await deliverMessages(deps, await payloadOf(batch.id));
    expect(r.received).toHaveLength(0);
    await deliverMessages(
      deps,
      putOff.flatMap((j) => entries(j.payload)),
    );
    expect(r.received.map((m) => String(m.headers['webhook-id'])).sort()).toEqual([...ids].sort());
  });

  it('leave it when queued again out of time, and stay in a job of another pool, or one named alone in an object payload', async () => {
    const r = await receiver();
    const { merchantId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 3);
    const batch = await lockedBatch(ids, 'pool-out-of-time');

    // A run that holds no lock on the job (another pool's) takes nothing out of it.
    await deliverMessages(deps, entries(batch.payload), undefined, { budgetMs: 0, owner: { jobIds: [batch.id], lockedBy: 'pool-other' } });
    expect(await payloadOf(batch.id)).toEqual(ids.map((messageId) => ({ messageId, attempt: 1 })));
    await db.sql`delete from graphile_worker._private_jobs where id <> ${batch.id}::bigint`;

    await deliverMessages(deps, entries(batch.payload), undefined, {
      budgetMs: 0,
      owner: { jobIds: [batch.id], lockedBy: 'pool-out-of-time' },
    });
    expect(r.received).toHaveLength(0);
    expect(await payloadOf(batch.id)).toEqual([]);
    const queued = (await jobsFor(ids)).filter((j) => j.id !== batch.id);
    expect(queued.flatMap((j) => entries(j.payload))).toEqual(ids.map((messageId) => ({ messageId, attempt: 1 })));

    // A retry job names its one attempt as an object: once handed on, it names none.
    const [single] = await db.sql<{ id: string }[]>`
      insert into graphile_worker._private_jobs (task_id, payload, locked_at, locked_by)
      select id, ${db.sql.json({ messageId: ids[0]!, attempt: 1 })}::json, now(), 'pool-single' from graphile_worker._private_tasks where identifier = 'deliver_message'
      returning id::text as id`;
    await deliverMessages(deps, [{ messageId: ids[0]!, attempt: 1 }], undefined, {
      budgetMs: 0,
      owner: { jobIds: [single!.id], lockedBy: 'pool-single' },
    });
    expect(await payloadOf(single!.id)).toEqual([]);
  });
});

describe('a batch whose successes cannot be recorded while attempts are still in flight', () => {
  it('fails the run with the database error once its lanes end, and leaves no rejection unhandled (the process would end)', async () => {
    // The first SUCCESS_FLUSH (50) answers come at once, the rest after 300 ms: the first flush fails while they are in flight.
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      const delay = n++ < 50 ? 0 : 300;
      setTimeout(() => res.writeHead(200).end('ok'), delay);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { merchantId } = await merchantWithEndpoint(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`);
      const ids = await emitMany(merchantId, 60);
      await db.sql`delete from graphile_worker._private_jobs`;
      await db.sql`create function test_refuse_attempts() returns trigger language plpgsql as $$ begin raise exception 'attempts refused by the test'; end $$`;
      await db.sql`create trigger test_refuse_attempts before insert on gw.attempts for each statement execute function test_refuse_attempts()`;
      try {
        await expect(
          deliverMessages(
            deps,
            ids.map((messageId) => ({ messageId, attempt: 1 })),
          ),
        ).rejects.toThrow('attempts refused by the test');
      } finally {
        await db.sql`drop trigger test_refuse_attempts on gw.attempts`;
        await db.sql`drop function test_refuse_attempts()`;
      }
      expect(n).toBe(60);
      expect((await messageRows(ids)).every((m) => m.status === 'pending' && m.attempts === 0)).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('a batch out of time', () => {
  it('starts nothing once its budget is spent and queues the rest in a new job to run now', async () => {
    const r = await receiver();
    const { merchantId } = await merchantWithEndpoint(r.url);
    const ids = await emitMany(merchantId, 3);
    await db.sql`delete from graphile_worker._private_jobs`;

    await deliverMessages(
      deps,
      ids.map((messageId) => ({ messageId, attempt: 1 })),
      undefined,
      { budgetMs: 0 },
    );

    expect(r.received).toHaveLength(0);
    const jobs = await jobsFor(ids);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.payload).toEqual(ids.map((messageId) => ({ messageId, attempt: 1 })));
    expect(jobs[0]!.run_at.getTime()).toBeLessThanOrEqual(Date.now());
  });
});

describe('a batch job whose key is reused while it runs', () => {
  it('leaves the running job alone and makes a new one; once its worker is found dead, the old job runs again', async () => {
    const r = await receiver();
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    const [first, second] = await emitMany(merchantId, 2);
    await db.sql`delete from graphile_worker._private_jobs`;

    // One transaction, so one lane, and within one second of the clock (the key's last part):
    // start just after a second begins. A worker takes the job between the two first attempts.
    await startOfNextSecond();
    await db.sql.begin(async (tx) => {
      await enqueueFirstAttempts(tx, [{ messageId: first!, endpointId }]);
      await tx`
        update graphile_worker._private_jobs set locked_by = 'worker-dead', locked_at = now() - interval '10 minutes', attempts = 1
         where payload::jsonb @> ${tx.json([{ messageId: first! }])}::jsonb`;
      await enqueueFirstAttempts(tx, [{ messageId: second!, endpointId }]);
    });

    const jobs = await jobsFor([first!, second!]);
    expect(jobs).toHaveLength(2);
    const [running, fresh] = jobs;
    expect(running!.payload).toEqual([{ messageId: first, attempt: 1 }]);
    expect(fresh!.payload).toEqual([{ messageId: second, attempt: 1 }]);
    // graphile-worker's add_jobs: the running job loses its key and its remaining runs.
    expect(running).toMatchObject({ key: null, locked_by: 'worker-dead' });
    expect(running!.attempts).toBe(running!.max_attempts);

    expect(await unlockAbandonedJobs(db.sql, 60)).toEqual({ jobs: 1, queues: 0 });
    const [after] = await jobsFor([first!]);
    expect(after).toMatchObject({ locked_by: null, attempts: running!.max_attempts - 1 });
  });
});

describe('a batch to an endpoint with a failure streak', () => {
  it('sends every attempt and the first success ends the streak', async () => {
    const r = await receiver();
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    await db.sql`update gw.endpoints set consecutive_failures = 3, failing_since = now() - interval '1 hour' where id = ${endpointId}`;
    const ids = await emitMany(merchantId, 4);
    await db.sql`delete from graphile_worker._private_jobs`;

    await deliverMessages(
      deps,
      ids.map((messageId) => ({ messageId, attempt: 1 })),
    );

    expect(r.received).toHaveLength(4);
    expect(await messageRows(ids)).toEqual([...ids].sort().map((id) => ({ id, status: 'succeeded', attempts: 1 })));
    const [ep] = await db.sql<{ consecutive_failures: number; failing_since: Date | null }[]>`
      select consecutive_failures, failing_since from gw.endpoints where id = ${endpointId}`;
    expect(ep).toEqual({ consecutive_failures: 0, failing_since: null });
    expect(await jobsFor(ids)).toEqual([]);
  });
});

describe('a batch to a rate-limited endpoint', () => {
  it('sends what the limit allows this second and puts the rest off together, unsent and uncounted', async () => {
    const r = await receiver();
    const { merchantId, endpointId } = await merchantWithEndpoint(r.url);
    await db.sql`update gw.endpoints set rate_limit_per_second = 2 where id = ${endpointId}`;
    const ids = await emitMany(merchantId, 5);
    await db.sql`delete from graphile_worker._private_jobs`;

    await deliverMessages(
      deps,
      ids.map((messageId) => ({ messageId, attempt: 1 })),
    );

    // Two, or fewer if the second turned between them (each second allows two).
    expect(r.received.length).toBeGreaterThanOrEqual(1);
    expect(r.received.length).toBeLessThanOrEqual(4);
    const sent = r.received.length;
    const rows = new Map((await messageRows(ids)).map((m) => [m.id, m]));
    expect(ids.filter((id) => rows.get(id)!.status === 'succeeded')).toHaveLength(sent);
    const queued = (await jobsFor(ids)).flatMap((j) => entries(j.payload));
    expect(queued.map((e) => e.messageId).sort()).toEqual(ids.filter((id) => rows.get(id)!.status === 'pending').sort());
    expect(queued.every((e) => e.attempt === 1)).toBe(true);
    expect((await jobsFor(ids)).length).toBeLessThanOrEqual(2); // the first put off alone (its own key), the rest in one job
  });
});

describe('first attempts queued while a worker completes the running batch jobs of their keys', () => {
  it('never wait for a job row another transaction holds: they go to a job of their own, and the jobs they could take lose key and retries', async () => {
    const r = await receiver();
    const merchant = await aMerchant(deps);
    const endpoints: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: r.url }, merchant.apiKey));
      expect(res.status).toBe(201);
      endpoints.push(((await res.json()) as { id: string }).id);
    }
    const [first, second] = [...endpoints].sort();
    const [m1, m2] = await emitMany(merchant.id, 1);
    const byEndpoint = new Map(
      (
        await db.sql<{ id: string; endpoint_id: string }[]>`select id, endpoint_id from gw.messages where id = any(${[m1!, m2!]}::text[])`
      ).map((m) => [m.endpoint_id, m.id]),
    );
    await db.sql`delete from graphile_worker._private_jobs`;
    // Running batch jobs (fetched by a worker) under every key this second's transactions can use, for both endpoints.
    await startOfNextSecond();
    const second0 = Math.floor(Date.now() / 1000);
    for (const endpointId of [first!, second!])
      for (const s of [second0, second0 + 1])
        for (let lane = 0; lane < 4; lane++)
          await db.sql`
            select graphile_worker.add_job('deliver_message', ${db.sql.json([{ messageId: 'msg_other', attempt: 1 }])}::json,
                                           job_key => ${`deliver:${endpointId}:${lane}:${s}`})`;
    await db.sql`update graphile_worker._private_jobs set locked_by = 'pool-live', locked_at = now(), attempts = 1`;

    // graphile-worker completes the second endpoint's jobs (a batch delete, in whatever order the jobs finished): its
    // rows stay locked until that statement's transaction ends.
    const completer = await db.sql.reserve();
    try {
      await completer`begin`;
      await completer`delete from graphile_worker._private_jobs where key like ${`deliver:${second}:%`}`;
      const queued = db.sql.begin((tx) =>
        enqueueFirstAttempts(tx, [
          { messageId: byEndpoint.get(first!)!, endpointId: first! },
          { messageId: byEndpoint.get(second!)!, endpointId: second! },
        ]),
      );
      // Were it to wait for a row the completer holds while holding the other endpoint's, the completer's next row
      // would close a deadlock.
      const outcome = await Promise.race([
        queued.then(() => 'queued'),
        new Promise((resolve) => setTimeout(() => resolve('waiting'), 3_000)),
      ]);
      expect(outcome).toBe('queued');
    } finally {
      await completer`rollback`;
      completer.release();
    }
    const jobs = await jobsFor([...byEndpoint.values()]);
    expect(jobs).toHaveLength(2);
    for (const j of jobs) expect(j).toMatchObject({ locked_by: null, attempts: 0 });
    expect(jobs.flatMap((j) => entries(j.payload)).sort((a, b) => a.messageId.localeCompare(b.messageId))).toEqual(
      [...byEndpoint.values()].sort().map((messageId) => ({ messageId, attempt: 1 })),
    );
    // The running job of the first endpoint's key was taken over as add_jobs does (key cleared, no retry); the second's
    // (rolled back, so still there) kept its key: the new job has a key of its own.
    const running = await db.sql<{ key: string | null; attempts: number; max_attempts: number }[]>`
      select key, attempts, max_attempts from graphile_worker._private_jobs
       where locked_by = 'pool-live' and (key is null or key like ${`deliver:${second}:%`})`;
    const cleared = running.filter((j) => j.key === null);
    expect(cleared).toHaveLength(1);
    expect(cleared[0]!.attempts).toBe(cleared[0]!.max_attempts);
    const secondJob = jobs.find((j) => entries(j.payload)[0]!.messageId === byEndpoint.get(second!))!;
    expect(running.map((j) => j.key)).not.toContain(secondJob.key);
  }, 20_000);
});
