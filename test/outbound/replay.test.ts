// Bulk replays (src/outbound/replay.ts, sql/0062_replays.sql): POST /v1/replays queues one more attempt of every
// message that matches, page by page, as `replay_messages` jobs run by a real runner, to a real receiver; a pending
// message with an attempt due is never queued twice; a replay survives its worker being SIGKILLed halfway.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Runner } from 'graphile-worker';
import { afterEach, describe, expect, it } from 'vitest';
import { startRunner } from '../../src/app/worker.js';
import type { Deps } from '../../src/core/deps.js';
import { emitEvents } from '../../src/core/events/outbox.js';
import { createSecretBox, generateMasterKey } from '../../src/core/secrets.js';
import { runReplayPage, startReplay } from '../../src/outbound/replay.js';
import { getReplay } from '../../src/outbound/replay-store.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';
import { startReceiver, type Receiver } from '../receiver.js';

const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/worker-child.ts', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close();
});

interface World {
  db: TestDatabase;
  deps: Deps;
  masterKey: string;
  receiver: Receiver;
  merchant: { id: string; apiKey: string };
  endpointId: string;
}

/** A fresh database, a merchant and an endpoint on a receiver answering `respond`. */
async function world(respond?: (n: number) => number): Promise<World> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const masterKey = generateMasterKey();
  const deps: Deps = { ...(await testDeps(db)), secretBox: await createSecretBox(masterKey) };
  const receiver = await startReceiver(respond);
  cleanups.push(() => receiver.close());
  const merchant = await aMerchant(deps);
  const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: receiver.url }, merchant.apiKey));
  const endpointId = ((await res.json()) as { id: string }).id;
  return { db, deps, masterKey, receiver, merchant, endpointId };
}

let tag = 0;
/**
 * `n` messages to the endpoint that failed after one attempt answered `responseStatus` (null: no response), their jobs
 * gone, as an outage leaves them. Returns their ids, oldest first.
 */
async function failedMessages(w: World, n: number, responseStatus: number | null, type = 'payment.captured'): Promise<string[]> {
  tag += 1;
  const emitted = await w.db.sql.begin((tx) =>
    emitEvents(
      tx,
      Array.from({ length: n }, (_, i) => ({
        merchantId: w.merchant.id,
        type,
        paymentId: null,
        dedupeKey: `replay-${tag}-${i}`,
        data: { i },
        at: new Date(),
      })),
    ),
  );
  const ids = emitted.flatMap((e) => e!.messageIds);
  await w.db.sql`delete from graphile_worker._private_jobs`;
  await w.db.sql`
    update gw.messages set status = 'failed', attempts = 1, last_attempt_at = now(), next_attempt_at = null where id = any(${ids}::text[])`;
  await w.db.sql`
    insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status, error, duration_ms, attempted_at)
    select gw.new_id('att'), m.id, m.event_id, m.endpoint_id, 1, 'failed', ${responseStatus}::int,
           ${responseStatus === null ? 'timeout' : null}::text, 5, now()
      from gw.messages m where m.id = any(${ids}::text[])`;
  return ids;
}

async function runner(w: World, concurrency = 4): Promise<Runner> {
  const r = await startRunner(w.deps, {
    connectionString: w.db.url,
    concurrency,
    pollIntervalMs: 100,
    recovery: { olderThanSeconds: 2, everyMs: 500 },
  });
  cleanups.push(() => r.stop());
  return r;
}

const api = (w: World, method: string, path: string, body?: unknown) =>
  testApp(w.deps).request(
    path,
    body === undefined
      ? { method, headers: { authorization: `Bearer ${w.merchant.apiKey}` } }
      : jsonRequest(method, body, w.merchant.apiKey),
  );

/** Succeeded attempts per message among `ids`. */
async function successesOf(w: World, ids: string[]): Promise<Map<string, number>> {
  const rows = await w.db.sql<{ message_id: string; n: number }[]>`
    select message_id, count(*)::int as n from gw.attempts
     where message_id = any(${ids}::text[]) and status = 'succeeded' group by message_id`;
  return new Map(rows.map((r) => [r.message_id, r.n]));
}

async function allSucceeded(w: World, ids: string[]): Promise<true | undefined> {
  const [row] = await w.db.sql<{ n: number }[]>`
    select count(*)::int as n from gw.messages where id = any(${ids}::text[]) and status = 'succeeded'`;
  return row!.n === ids.length ? true : undefined;
}

/** How many times the receiver got each webhook-id. */
function receiptsById(receiver: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of receiver.received) {
    const id = String(r.headers['webhook-id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('POST /v1/replays', () => {
  it('delivers each of 500 failed messages once after the receiver is fixed, and reports done / total', async () => {
    const w = await world();
    const ids = await failedMessages(w, 500, 503);
    const res = await api(w, 'POST', '/v1/replays', { since: new Date(Date.now() - 3_600_000).toISOString() });
    expect(res.status).toBe(202);
    const created = (await res.json()) as { id: string; status: string; total: number; done: number };
    expect(created).toMatchObject({ status: 'running', total: 500, done: 0 });
    expect(created.id).toMatch(/^rpl_/);

    await runner(w);
    await eventually(() => allSucceeded(w, ids), 60_000, 'all 500 delivered');
    const progress = (await (await api(w, 'GET', `/v1/replays/${created.id}`)).json()) as Record<string, unknown>;
    expect(progress).toMatchObject({ status: 'completed', total: 500, done: 500, queued: 500, skipped: 0 });
    expect(progress.finishedAt).toEqual(expect.any(String));
    const receipts = receiptsById(w.receiver);
    expect(receipts.size).toBe(500);
    expect([...receipts.values()].every((n) => n === 1)).toBe(true);
    expect([...(await successesOf(w, ids)).values()].every((n) => n === 1)).toBe(true);
  });

  it('selects by response status class, event type and endpoint', async () => {
    const w = await world();
    const fiveHundreds = await failedMessages(w, 3, 500);
    const fourHundreds = await failedMessages(w, 2, 404);
    const noResponse = await failedMessages(w, 2, null, 'payment.refunded');
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const counted = async (body: Record<string, unknown>) => {
      const res = await api(w, 'POST', '/v1/replays', { since, ...body });
      expect(res.status).toBe(202);
      const r = (await res.json()) as { id: string; total: number };
      await w.db.sql`update gw.replays set status = 'cancelled', finished_at = now() where id = ${r.id}`;
      return r.total;
    };
    expect(await counted({ responseStatusClass: ['5xx'] })).toBe(fiveHundreds.length);
    expect(await counted({ responseStatusClass: ['4xx', 'none'] })).toBe(fourHundreds.length + noResponse.length);
    expect(await counted({ eventTypes: ['payment.refunded'] })).toBe(noResponse.length);
    expect(await counted({ endpointId: w.endpointId })).toBe(7);
    expect(await counted({ status: ['pending'] })).toBe(0);
  });

  it('never queues a message twice while an earlier attempt is pending: a due attempt is skipped, a waiting retry is moved, not doubled', async () => {
    const w = await world();
    const [failed, retryLater, due] = await failedMessages(w, 3, 500);
    const later = new Date(Date.now() + 3_600_000);
    await w.db.sql`update gw.messages set status = 'pending', next_attempt_at = ${later} where id = ${retryLater!}`;
    await w.db.sql`
      select graphile_worker.add_job('deliver_message', json_build_object('messageId', ${retryLater!}::text, 'attempt', 2),
                                     run_at => ${later}::timestamptz, job_key => ${`deliver:${retryLater!}:2`}::text)`;
    await w.db.sql`update gw.messages set status = 'pending', next_attempt_at = now() - interval '1 second' where id = ${due!}`;

    const since = new Date(Date.now() - 3_600_000);
    const filter = {
      merchantId: w.merchant.id,
      endpointId: null,
      since,
      until: new Date(),
      statuses: ['failed', 'pending'] as ('failed' | 'pending')[],
      responseClasses: null,
      eventTypes: null,
    };
    const first = await w.db.sql.begin((tx) => startReplay(tx, filter, new Date()));
    await runReplayPage(w.deps, { replayId: first.id, page: 0 });
    expect(await getReplay(w.db.sql, null, first.id)).toMatchObject({ status: 'completed', total: 3, queued: 2, skipped: 1 });
    // A second replay right away: both queued messages now have an attempt due, so it skips all three.
    const second = await w.db.sql.begin((tx) => startReplay(tx, filter, new Date()));
    await runReplayPage(w.deps, { replayId: second.id, page: 0 });
    expect(await getReplay(w.db.sql, null, second.id)).toMatchObject({ status: 'completed', queued: 0, skipped: 3 });

    const jobs = await w.db.sql<{ key: string | null; due: boolean }[]>`
      select key, run_at <= now() as due from graphile_worker._private_jobs j
        join graphile_worker._private_tasks t on t.id = j.task_id
       where t.identifier = 'deliver_message' order by key`;
    expect(jobs).toEqual(
      [
        { key: `deliver:${failed!}:2`, due: true },
        { key: `deliver:${retryLater!}:2`, due: true },
      ].sort((a, b) => (a.key < b.key ? -1 : 1)),
    );
  });

  it('is refused with 400 for a since not before until, 404 for another merchant’s endpoint, 409 for a disabled one', async () => {
    const w = await world();
    const other = await aMerchant(w.deps, 'Other');
    const otherEp = await testApp(w.deps).request('/v1/endpoints', jsonRequest('POST', { url: w.receiver.url }, other.apiKey));
    const otherId = ((await otherEp.json()) as { id: string }).id;
    const since = new Date(Date.now() - 60_000).toISOString();
    expect((await api(w, 'POST', '/v1/replays', { since: new Date(Date.now() + 60_000).toISOString() })).status).toBe(400);
    expect((await api(w, 'POST', '/v1/replays', { since, until: since })).status).toBe(400);
    expect((await api(w, 'POST', '/v1/replays', { since, status: ['succeeded'] })).status).toBe(400);
    expect((await api(w, 'POST', '/v1/replays', { since, endpointId: otherId })).status).toBe(404);
    await api(w, 'PATCH', `/v1/endpoints/${w.endpointId}`, { status: 'disabled' });
    expect((await api(w, 'POST', '/v1/replays', { since, endpointId: w.endpointId })).status).toBe(409);
    expect((await api(w, 'GET', '/v1/replays/rpl_0000')).status).toBe(404);
  });
});

describe('POST /v1/replays/{id}/cancel', () => {
  it('stops a running replay before its next page; a completed one is 409; another merchant’s is 404', async () => {
    const w = await world();
    await failedMessages(w, 5, 500);
    const filter = {
      merchantId: w.merchant.id,
      endpointId: null,
      since: new Date(Date.now() - 3_600_000),
      until: new Date(),
      statuses: ['failed'] as 'failed'[],
      responseClasses: null,
      eventTypes: null,
    };
    const replay = await w.db.sql.begin((tx) => startReplay(tx, filter, new Date(), 2));
    await runReplayPage(w.deps, { replayId: replay.id, page: 0 });
    const cancelled = await api(w, 'POST', `/v1/replays/${replay.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ status: 'cancelled', done: 2, queued: 2, total: 5 });
    await runReplayPage(w.deps, { replayId: replay.id, page: 1 }); // the page queued before the cancel
    expect(await getReplay(w.db.sql, null, replay.id)).toMatchObject({ status: 'cancelled', done: 2 });
    expect((await api(w, 'POST', `/v1/replays/${replay.id}/cancel`)).status).toBe(200);

    const done = await w.db.sql.begin((tx) => startReplay(tx, { ...filter, statuses: ['pending'] }, new Date()));
    await runReplayPage(w.deps, { replayId: done.id, page: 0 });
    expect((await api(w, 'POST', `/v1/replays/${done.id}/cancel`)).status).toBe(409);
    const other = await aMerchant(w.deps, 'Other');
    const res = await testApp(w.deps).request(`/v1/replays/${done.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.apiKey}` },
    });
    expect(res.status).toBe(404);
  });
});

/** The worker child of test/fixtures/worker-child.ts, in its own process group so tsx and its node child die together. */
async function startChildWorker(databaseUrl: string, masterKey: string) {
  const child: ChildProcess = spawn(TSX, [CHILD, databaseUrl, masterKey], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  cleanups.push(async () => {
    killGroup();
    child.stdin?.destroy();
    await exited;
  });
  const ready = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') resolve();
    });
  });
  await ready;
  return { killGroup, exited };
}

describe('a replay whose worker is SIGKILLed halfway', () => {
  it('resumes on another worker from its cursor: every message is delivered, each recorded once, none sent twice but the one in flight', async () => {
    const w = await world();
    const ids = await failedMessages(w, 500, 502);
    const child = await startChildWorker(w.db.url, w.masterKey);
    const replay = await w.db.sql.begin((tx) =>
      startReplay(
        tx,
        {
          merchantId: w.merchant.id,
          endpointId: w.endpointId,
          since: new Date(Date.now() - 3_600_000),
          until: new Date(),
          statuses: ['failed'],
          responseClasses: null,
          eventTypes: null,
        },
        new Date(),
        25,
      ),
    );
    await eventually(async () => (w.receiver.received.length >= 200 ? true : undefined), 60_000, '200 deliveries by the child');
    child.killGroup();
    expect(await child.exited).toBe('SIGKILL');
    const atKill = await getReplay(w.db.sql, null, replay.id);
    expect(atKill!.status).toBe('running');
    expect(atKill!.done).toBeLessThan(500);

    await runner(w, 2);
    await eventually(() => allSucceeded(w, ids), 90_000, 'all 500 delivered after the restart');
    expect(await getReplay(w.db.sql, null, replay.id)).toMatchObject({ status: 'completed', done: 500, queued: 500, skipped: 0 });
    expect([...(await successesOf(w, ids)).values()].every((n) => n === 1)).toBe(true);
    const receipts = receiptsById(w.receiver);
    expect(receipts.size).toBe(500);
    // At least once: only an attempt in flight at the kill (the child runs one job at a time) may arrive twice.
    expect([...receipts.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(1);
    expect(Math.max(...receipts.values())).toBeLessThanOrEqual(2);
  });
});

/** Runs `switchyard …args` on `w`'s database to completion. */
function cli(w: World, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, ['src/app/cli/index.ts', ...args], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: w.db.url,
        SWITCHYARD_MASTER_KEY: w.masterKey,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('switchyard replay', () => {
  it('replays an endpoint’s failed messages and follows the replay to the end', async () => {
    const w = await world();
    const ids = await failedMessages(w, 30, 500);
    await runner(w);
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const run = await cli(w, 'replay', '--since', since, '--endpoint', w.endpointId);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^replay rpl_[0-9a-f]{32}: 30 message\(s\) match\n/);
    expect(run.stdout).toMatch(/replay rpl_[0-9a-f]{32} completed: 30\/30 messages \(30 queued, 0 skipped\)\n$/);
    await eventually(() => allSucceeded(w, ids), 30_000, 'all 30 delivered');
  });

  it('prints its usage for --help, refuses bad usage with exit 2 and a disabled endpoint with exit 1', async () => {
    const w = await world();
    const usage = await cli(w, 'replay', '--help');
    expect(usage.code).toBe(0);
    expect(usage.stdout).toContain('switchyard replay --since');
    expect((await cli(w, 'replay', '--endpoint', w.endpointId)).code).toBe(2);
    expect((await cli(w, 'replay', '--since', 'yesterday', '--endpoint', w.endpointId)).code).toBe(2);
    await api(w, 'PATCH', `/v1/endpoints/${w.endpointId}`, { status: 'disabled' });
    const run = await cli(w, 'replay', '--since', new Date(Date.now() - 60_000).toISOString(), '--endpoint', w.endpointId);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is disabled');
  });
});
