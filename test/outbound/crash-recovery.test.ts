// A worker killed with SIGKILL mid-delivery leaves its graphile-worker job (and a named
// queue, for jobs in one) locked for 4 hours, by graphile-worker's own expiry; Switchyard's runner
// unlocks them (src/core/jobs/recovery.ts) and the message is delivered again with the same
// webhook-id (docs/architecture.md "The job queue"). A real child process
// (test/fixtures/worker-child.ts) takes the job and is killed; a real receiver on 127.0.0.1
// hangs on the first request.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Runner } from 'graphile-worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { unlockAbandonedJobs } from '../../src/core/jobs/recovery.js';
import { startRunner } from '../../src/app/worker.js';
import { createSecretBox, generateMasterKey } from '../../src/core/secrets.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { recordInboundEvent } from '../record-inbound-event.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';

const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/worker-child.ts', import.meta.url));

/** Recovery settings of the test's runner: a job locked 2 s is abandoned; sweeps every 0.5 s. */
const RECOVERY = { olderThanSeconds: 2, everyMs: 500 };
/** From the SIGKILL, the message must be delivered again within this (threshold 2 s + sweep 0.5 s + poll 0.2 s + slack). */
const RECOVERY_BOUND_MS = 6_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LockRow {
  id: string;
  locked_by: string | null;
  locked_at: Date | null;
  attempts: number;
  run_at: Date;
  queue_name: string | null;
  queue_locked_by: string | null;
  queue_locked_at: Date | null;
}

/** The graphile-worker job rows (0.16 private tables) with their queue's lock; all, or those for one message (alone or in a batch). */
async function jobLocks(db: TestDatabase, messageId?: string): Promise<LockRow[]> {
  return db.sql<LockRow[]>`
    select j.id::text as id, j.locked_by, j.locked_at, j.attempts, j.run_at,
           q.queue_name, q.locked_by as queue_locked_by, q.locked_at as queue_locked_at
      from graphile_worker._private_jobs j
      left join graphile_worker._private_job_queues q on q.id = j.job_queue_id
     where ${messageId ?? null}::text is null
        or exists (select 1 from json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
                    where e.value ->> 'messageId' = ${messageId ?? null}::text)
     order by j.id`;
}

describe('unlockAbandonedJobs', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());
  beforeEach(async () => {
    await db.sql`delete from graphile_worker._private_jobs`;
    await db.sql`delete from graphile_worker._private_job_queues`;
  });

  let n = 0;
  /** Adds a deliver_message job (no runner ever runs in this database), in `queue` if given. */
  async function addJob(queue: string | null = null): Promise<string> {
    const [row] = await db.sql<{ id: string }[]>`
      select (graphile_worker.add_job('deliver_message', ${db.sql.json({ messageId: `msg_unit_${++n}`, attempt: 1 })}::json,
                                      queue_name => ${queue}::text)).id::text as id`;
    return row!.id;
  }

  /** Locks a job as graphile-worker's getJob does (job, its queue, attempts + 1), `ageSeconds` ago. */
  async function lockAsWorker(jobId: string, workerId: string, ageSeconds: number): Promise<void> {
    await db.sql`
      with j as (
        update graphile_worker._private_jobs
           set locked_by = ${workerId}, locked_at = now() - make_interval(secs => ${ageSeconds}::float8), attempts = attempts + 1
         where id = ${jobId}::bigint
        returning job_queue_id, locked_at)
      update graphile_worker._private_job_queues q
         set locked_by = ${workerId}, locked_at = j.locked_at
        from j
       where q.id = j.job_queue_id`;
  }

  it('leaves a job alone that its worker locked just now', async () => {
    const id = await addJob();
    await lockAsWorker(id, 'worker-alive', 0);

    expect(await unlockAbandonedJobs(db.sql, 60)).toEqual({ jobs: 0, queues: 0 });

    const [job] = await jobLocks(db);
    expect(job).toMatchObject({ id, locked_by: 'worker-alive' });
    expect(job!.locked_at).toBeInstanceOf(Date);
  });

  it('unlocks a job locked 10 minutes ago without touching its attempts or run_at', async () => {
    const id = await addJob();
    await lockAsWorker(id, 'worker-dead', 0);
    const [before] = await jobLocks(db);
    await db.sql`update graphile_worker._private_jobs set locked_at = now() - interval '10 minutes' where id = ${id}::bigint`;

    expect(await unlockAbandonedJobs(db.sql, 60)).toEqual({ jobs: 1, queues: 0 });

    const [after] = await jobLocks(db);
    expect(after).toMatchObject({ id, locked_by: null, locked_at: null, attempts: before!.attempts, run_at: before!.run_at });
  });

  it('unlocks the named queue of an abandoned job together with the job, and leaves a live worker’s job and queue locked', async () => {
    const dead = await addJob('ep:dead:0');
    const live = await addJob('ep:live:0');
    await lockAsWorker(dead, 'worker-dead', 600);
    await lockAsWorker(live, 'worker-live', 1);

    expect(await unlockAbandonedJobs(db.sql, 60)).toEqual({ jobs: 1, queues: 1 });

    const rows = await jobLocks(db);
    expect(rows.find((r) => r.id === dead)).toMatchObject({
      locked_by: null,
      queue_name: 'ep:dead:0',
      queue_locked_by: null,
      queue_locked_at: null,
    });
    expect(rows.find((r) => r.id === live)).toMatchObject({
      locked_by: 'worker-live',
      queue_name: 'ep:live:0',
      queue_locked_by: 'worker-live',
    });
  });

  it('unlocks a queue locked by a worker that holds no job any more, however recent the lock', async () => {
    const id = await addJob('ep:orphan:0');
    await db.sql`
      update graphile_worker._private_job_queues set locked_by = 'worker-vanished', locked_at = now()
       where queue_name = 'ep:orphan:0'`;

    expect(await unlockAbandonedJobs(db.sql, 60)).toEqual({ jobs: 0, queues: 1 });

    const [row] = await jobLocks(db);
    expect(row).toMatchObject({ id, locked_by: null, queue_name: 'ep:orphan:0', queue_locked_by: null, queue_locked_at: null });
  });

  it('does nothing when no job or queue is locked', async () => {
    await addJob('ep:idle:0');
    expect(await unlockAbandonedJobs(db.sql, 60)).toEqual({ jobs: 0, queues: 0 });
  });
});

/** A receiver that never answers its first request and answers 200 to the others. */
async function hangingFirstReceiver() {
  const received: { at: number; headers: IncomingHttpHeaders }[] = [];
  let firstClosed!: () => void;
  const firstRequestClosed = new Promise<void>((resolve) => (firstClosed = resolve));
  const server = createServer((req, res) => {
    received.push({ at: Date.now(), headers: req.headers });
    req.resume();
    if (received.length === 1) {
      req.socket.once('close', () => firstClosed()); // the worker holding the connection is gone
      return; // hang
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, firstRequestClosed };
}

/** The worker child: started through the tsx binary in its own process group (tsx runs the script in a node grandchild). */
async function startChildWorker(databaseUrl: string, masterKey: string, mode?: 'serve') {
  const child: ChildProcess = spawn(TSX, [CHILD, databaseUrl, masterKey, ...(mode ? [mode] : [])], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL'); // tsx and its node grandchild
    } catch {
      // already gone
    }
  };
  cleanups.push(async () => {
    killGroup();
    child.stdin?.destroy();
    await exited;
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const waitLine = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child never printed ${pattern}; stdout: ${lines.join(' | ')}; stderr: ${stderr}`)),
        timeoutMs,
      );
      const check = () => {
        for (const l of lines) {
          const m = l.match(pattern);
          if (m) {
            clearTimeout(timer);
            return resolve(m);
          }
        }
        waiters.push(check);
      };
      check();
    });
  await waitLine(/^ready$/, 15_000);
  return { waitLine, killGroup, exited };
}

/**
 * A merchant with an endpoint on a receiver that hangs on the first request, an event
 * whose delivery job a child worker takes, and the child SIGKILLed while the request hangs.
 * Returns once the child is dead (its HTTP connection closed) with the job still locked.
 */
async function crashMidDelivery() {
  const db = await freshDatabase();
  const masterKey = generateMasterKey();
  const deps: Deps = { ...(await testDeps(db)), secretBox: await createSecretBox(masterKey) };
  const receiver = await hangingFirstReceiver();
  const merchant = await aMerchant(deps);
  const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: receiver.url }, merchant.apiKey));
  expect(res.status).toBe(201);

  const child = await startChildWorker(db.url, masterKey);
  const emitted = await emitEvent(db.sql, {
    merchantId: merchant.id,
    type: 'payment.captured',
    paymentId: null,
    dedupeKey: 'crash-recovery',
    data: { paymentId: 'pay_crash', amount: 1099, currency: 'USD' },
    at: new Date(),
  });
  const messageId = emitted!.messageIds[0]!;
  const [, , deadWorkerId] = await child.waitLine(/^job (\d+) (\S+)$/, 10_000);
  await eventually(async () => (receiver.received.length === 1 ? true : undefined), 10_000, 'first delivery request');

  child.killGroup();
  const killedAt = Date.now();
  expect(await child.exited).toBe('SIGKILL');
  await receiver.firstRequestClosed;

  const [job] = await jobLocks(db, messageId);
  expect(job).toMatchObject({ locked_by: deadWorkerId });
  return { db, deps, receiver, messageId, killedAt, lockedAt: job!.locked_at! };
}

async function runnerFor(db: TestDatabase, deps: Deps, recovery: { olderThanSeconds: number; everyMs: number }): Promise<Runner> {
  const runner = await startRunner(deps, { connectionString: db.url, concurrency: 1, pollIntervalMs: 200, recovery });
  cleanups.push(() => runner.stop());
  return runner;
}

async function messageRow(db: TestDatabase, messageId: string) {
  const [row] = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from gw.messages where id = ${messageId}`;
  return row!;
}

describe('a worker killed with SIGKILL in the middle of a delivery', () => {
  it(`has its job unlocked by another runner and the message delivered again with the same webhook-id within ${RECOVERY_BOUND_MS / 1000} s`, async () => {
    const { db, deps, receiver, messageId, killedAt, lockedAt } = await crashMidDelivery();

    await runnerFor(db, deps, RECOVERY);
    await eventually(
      async () => (receiver.received.length >= 2 ? true : undefined),
      RECOVERY_BOUND_MS - (Date.now() - killedAt),
      'second delivery request',
    );
    const redelivered = receiver.received[1]!;
    const afterKillMs = redelivered.at - killedAt;
    const afterLockMs = redelivered.at - lockedAt.getTime();
    console.info(`recovered: redelivered ${afterKillMs} ms after the SIGKILL, ${afterLockMs} ms after the job was locked`);

    expect(afterKillMs).toBeLessThan(RECOVERY_BOUND_MS);
    expect(afterLockMs).toBeGreaterThanOrEqual(RECOVERY.olderThanSeconds * 1000 - 50); // not before the threshold
    expect(redelivered.headers['webhook-id']).toBe(messageId);
    expect(receiver.received[0]!.headers['webhook-id']).toBe(messageId);
    await eventually(async () => ((await messageRow(db, messageId)).status === 'succeeded' ? true : undefined), 3_000, 'message succeeded');
    expect(await messageRow(db, messageId)).toEqual({ status: 'succeeded', attempts: 1 });
    const attempts = await db.sql<{ attempt_number: number; status: string; response_status: number }[]>`
      select attempt_number, status, response_status from gw.attempts where message_id = ${messageId}`;
    expect(attempts).toEqual([{ attempt_number: 1, status: 'succeeded', response_status: 200 }]);
    await eventually(async () => ((await jobLocks(db, messageId)).length === 0 ? true : undefined), 3_000, 'job completed');
  });

  it(`stays locked by the dead worker, undelivered, for the same ${RECOVERY_BOUND_MS / 1000} s under a runner whose recovery threshold is an hour`, async () => {
    const { db, deps, receiver, messageId, killedAt } = await crashMidDelivery();

    await runnerFor(db, deps, { olderThanSeconds: 3600, everyMs: RECOVERY.everyMs });
    await sleep(RECOVERY_BOUND_MS - (Date.now() - killedAt));

    expect(receiver.received).toHaveLength(1);
    const [job] = await jobLocks(db, messageId);
    expect(job!.locked_by).toMatch(/^pool-/);
    expect(await messageRow(db, messageId)).toEqual({ status: 'pending', attempts: 0 });
  });
});

describe('a worker killed with SIGKILL while the first attempts its processing handed it are in flight', () => {
  it(`leaves their job locked by its pool, which recovery unlocks: every message delivered within ${RECOVERY_BOUND_MS / 1000} s, the hung one again with the same webhook-id`, async () => {
    const db = await freshDatabase();
    const masterKey = generateMasterKey();
    const deps: Deps = { ...(await testDeps(db)), secretBox: await createSecretBox(masterKey) };
    const receiver = await hangingFirstReceiver();
    const merchant = await aMerchant(deps);
    const app = testApp(deps);
    expect((await app.request('/v1/endpoints', jsonRequest('POST', { url: receiver.url }, merchant.apiKey))).status).toBe(201);
    const source = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: 'whsec_crash_recovery_0123456789' }, merchant.apiKey),
    );
    expect(source.status).toBe(201);
    const sourceId = ((await source.json()) as { id: string }).id;

    const child = await startChildWorker(db.url, masterKey);
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 2500, at: new Date() }) as { id: string; type: string };
    await db.sql.begin((tx) =>
      recordInboundEvent(tx, {
        sourceId,
        merchantId: merchant.id,
        eventId: event.id,
        eventType: event.type,
        rawBody: new TextEncoder().encode(JSON.stringify(event)),
        headers: {},
      }),
    );
    const [, , poolId] = await child.waitLine(/^job (\d+) (\S+)$/, 10_000);
    await eventually(async () => (receiver.received.length === 1 ? true : undefined), 10_000, 'first delivery request');
    // The processing job's worker makes the attempt itself; the attempt's job waits, locked by that worker's pool
    // since its insert, never fetched (a fetch counts an attempt).
    const handoffs = await db.sql<{ locked_by: string | null; attempts: number }[]>`
      select j.locked_by, j.attempts from graphile_worker._private_jobs j
        join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'deliver_message'`;
    expect(handoffs).toEqual([{ locked_by: poolId, attempts: 0 }]);

    child.killGroup();
    const killedAt = Date.now();
    expect(await child.exited).toBe('SIGKILL');
    await receiver.firstRequestClosed;
    const hungId = receiver.received[0]!.headers['webhook-id'];

    await runnerFor(db, deps, RECOVERY);
    const settled = async () => {
      const rows = await db.sql<{ id: string; status: string; attempts: number }[]>`
        select id, status, attempts from gw.messages where merchant_id = ${merchant.id} order by id`;
      return rows.length > 0 && rows.every((r) => r.status === 'succeeded') ? rows : undefined;
    };
    const messages = await eventually(settled, RECOVERY_BOUND_MS - (Date.now() - killedAt) + 2_000, 'every message succeeded');
    expect(messages.map((m) => m.attempts)).toEqual(messages.map(() => 1));
    // Each message reached the receiver once, but for the hung one, sent again with its webhook-id.
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids.filter((id) => id === hungId)).toHaveLength(2);
    expect(new Set(ids).size).toBe(messages.length);
    expect(ids).toHaveLength(messages.length + 1);
    // Completions are committed in batches after the task, and a job the slow-endpoint detection put off to a
    // later run may remain (it finds its messages sent): what must not remain is a job due now or still held.
    await eventually(
      async () =>
        (await db.sql`select 1 from graphile_worker._private_jobs where locked_at is not null or run_at <= now()`).length === 0
          ? true
          : undefined,
      10_000,
      'no job left due or held',
    );
  });
});

describe('a process killed with SIGKILL after its ack path handed it the processing job', () => {
  it(`leaves the job locked by its pool, which recovery unlocks: the event processed once and delivered within ${RECOVERY_BOUND_MS / 1000} s`, async () => {
    const db = await freshDatabase();
    const masterKey = generateMasterKey();
    const deps: Deps = { ...(await testDeps(db)), secretBox: await createSecretBox(masterKey) };
    const receiver = await hangingFirstReceiver();
    const merchant = await aMerchant(deps);
    const app = testApp(deps);
    expect((await app.request('/v1/endpoints', jsonRequest('POST', { url: receiver.url }, merchant.apiKey))).status).toBe(201);
    const secret = 'whsec_crash_recovery_0123456789';
    const source = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret }, merchant.apiKey));
    const sourceId = ((await source.json()) as { id: string }).id;

    const child = await startChildWorker(db.url, masterKey, 'serve');
    const [, url] = await child.waitLine(/^listening (\S+)$/, 1_000);
    // Processing cannot write a payment while this transaction holds the table: the handed job stays held.
    const blocker = await db.sql.reserve();
    cleanups.push(async () => blocker.release());
    await blocker`begin`;
    await blocker`lock table gw.payments in share row exclusive mode`;
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 2600, at: new Date() }) as { id: string };
    const body = JSON.stringify(event);
    const ack = await fetch(`${url}/inbound/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, secret, new Date()) },
      body,
    });
    expect(ack.status).toBe(200);
    const processingJobs = () => db.sql<{ locked_by: string | null; attempts: number }[]>`
      select j.locked_by, j.attempts from graphile_worker._private_jobs j
        join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'process_inbound_event'`;
    const [held] = await processingJobs();
    // Never fetched (a fetch counts an attempt): committed locked by the child's pool with the ack.
    expect(held).toMatchObject({ locked_by: expect.stringMatching(/^pool-/), attempts: 0 });

    child.killGroup();
    const killedAt = Date.now();
    expect(await child.exited).toBe('SIGKILL');
    await blocker`rollback`;

    await runnerFor(db, deps, RECOVERY);
    const processed = await eventually(
      async () => {
        const rows = await db.sql<{ status: string }[]>`select status from gw.inbound_events where source_id = ${sourceId}`;
        return rows.length === 1 && rows[0]!.status === 'processed' ? rows : undefined;
      },
      RECOVERY_BOUND_MS - (Date.now() - killedAt) + 2_000,
      'the handed event processed',
    );
    expect(processed).toHaveLength(1);
    const [payments] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.payments where merchant_id = ${merchant.id}`;
    expect(payments!.n).toBe(1);
    // The receiver hangs on its first request; the message is then sent again by its retry.
    await eventually(async () => (receiver.received.length >= 1 ? true : undefined), 10_000, 'the delivery');
    expect(await processingJobs()).toEqual([]);
  });
});
