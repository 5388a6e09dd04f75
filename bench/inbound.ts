// `npm run bench:inbound`: durable acks per second of POST /inbound/{sourceId} under load,
// against the ceilings of this machine, on a fresh database. Prints figures and the
// machine; it is not a test. The last line is one JSON object (acks, p50 and p99 at 50
// connections; the insert and bare-HTTP ceilings at 50 connections; missing rows overall).
//
// Each gateway run is followed at once by the ceilings at the same concurrency (a shared
// machine's load moves; adjacent runs compare best). The gateway (HTTP server + batcher,
// no worker unless BENCH_WORKER=1) runs in this
// process; autocannon runs in a child process (bench/inbound-load.ts) so that it does not
// share the gateway's event loop. Both, and PostgreSQL, share the machine's cores.
//
// Settings: BENCH_SECONDS (per gateway run, default 10), BENCH_CEILING_SECONDS (per
// ceiling run, default 5; 0 skips the ceilings), BENCH_CONNECTIONS (default 10,50,100), BENCH_WORKER=1 (run the
// worker too), DATABASE_URL (a server on which to create a fresh database; default: an
// embedded PostgreSQL in a temporary directory), any SWITCHYARD_* setting.
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { loadConfig } from '../src/core/config.js';
import { createSql, type Sql } from '../src/core/db/client.js';
import { createLogger } from '../src/app/node/logger.js';
import { startGateway } from '../src/app/gateway.js';
import { stripeTemplate } from './stripe-template.js';
import type { LoadRequest, LoadResult } from './inbound-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CEILING_SECONDS = Number(process.env.BENCH_CEILING_SECONDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '10,50,100').split(',').map(Number);
const WITH_WORKER = process.env.BENCH_WORKER === '1';
const SECRET = 'whsec_bench_inbound_secret_0123456789';
const HEADLINE = 50;

const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;
const line = (s = '') => process.stdout.write(`${s}\n`);

/** Runs autocannon in a child process against `url`; returns its summary and the event ids answered 200. */
async function load(
  url: string,
  connections: number,
  durationSeconds: number,
  tag: string,
  template: string,
): Promise<LoadResult & { acked: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sy-bench-load-'));
  const ackedFile = path.join(dir, 'acked.txt');
  const child = fork(fileURLToPath(new URL('./inbound-load.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
  try {
    const request: LoadRequest = { url, connections, durationSeconds, secret: SECRET, template, tag, ackedFile };
    const answer = await new Promise<{ result?: LoadResult; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { result?: LoadResult; error?: string }));
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
      child.send(request);
    });
    if (!answer.result) throw new Error(`load generator failed: ${answer.error}`);
    const text = await readFile(ackedFile, 'utf8');
    return { ...answer.result, acked: text ? text.split('\n') : [] };
  } finally {
    child.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The insert ceiling: `concurrency` loops, each committing single-row insert transactions
 * (BEGIN; INSERT one ~1.5 KB row; COMMIT) into a table shaped like gw.inbound_events,
 * over a pool of min(concurrency, 50) connections, for `seconds`. Returns commits/s.
 */
async function insertCeiling(url: string, concurrency: number, seconds: number, body: Uint8Array): Promise<number> {
  const sql = createSql(url, { max: Math.min(concurrency, 50), applicationName: 'bench-ceiling' });
  try {
    const headers = { 'content-type': 'application/json', 'stripe-signature': `t=1,v1=${'0'.repeat(64)}`, host: '127.0.0.1' };
    let n = 0;
    const until = performance.now() + seconds * 1000;
    const started = performance.now();
    const loop = async (k: number) => {
      while (performance.now() < until) {
        const i = n++;
        await sql.begin(
          (tx) => tx`
            insert into bench_ceiling (id, source_id, merchant_id, event_id, event_type, raw_body, headers)
            values (${`iev_${concurrency}_${k}_${i}`}, 'src_bench', 'mch_bench', ${`evt_${concurrency}_${i}`}, 'payment_intent.succeeded', ${body}, ${tx.json(headers)})`,
        );
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, k) => loop(k)));
    return n / ((performance.now() - started) / 1000);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * CPU time (user + system, ms) used so far by the PostgreSQL server whose postmaster is
 * `postmasterPid` and its backends (Linux /proc; clock ticks taken as 10 ms). Backends that
 * exited are not counted, so this is for a server whose connections stay open.
 */
async function pgCpuMs(postmasterPid: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      if (pid === postmasterPid || Number(f[1]) === postmasterPid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10;
}

/** Batches the gateway's batcher has sent so far (0 without one). */
function batchCount(batcher: { stats: { batches: number } } | undefined): number {
  return batcher?.stats.batches ?? 0;
}

async function count(sql: Sql, ids: string[]): Promise<number> {
  let found = 0;
  for (let i = 0; i < ids.length; i += 20_000) {
    const chunk = ids.slice(i, i + 20_000);
    const [r] = await sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events where event_id = any(${chunk}::text[])`;
    found += r!.n;
  }
  return found;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-inbound-'));
  await chmod(dataDir, 0o755);
  // A fresh database: a new one on DATABASE_URL's server, or a new embedded server.
  let benchDb: string | undefined;
  let adminUrl: string | undefined;
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
    benchDb = `sy_bench_${process.pid}_${Date.now().toString(36)}`;
    const admin = createSql(adminUrl, { max: 1 });
    await admin.unsafe(`create database ${benchDb}`);
    await admin.end();
  }
  const databaseUrl = benchDb && adminUrl ? Object.assign(new URL(adminUrl), { pathname: `/${benchDb}` }).toString() : undefined;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: '0',
    SWITCHYARD_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
  });
  const gateway = await startGateway(config, { logger: createLogger('silent'), withWorker: WITH_WORKER });
  const sql = gateway.deps.sql;
  let bare: ServerType | undefined;
  try {
    const [{ server_version: pgVersion }] = (await sql`show server_version`) as unknown as [{ server_version: string }];
    const cpus = os.cpus();
    line(
      `machine: ${cpus[0]?.model ?? '?'} × ${cpus.length}, ${round(os.totalmem() / 2 ** 30, 1)} GiB, load average ${os
        .loadavg()
        .map((x) => round(x, 1))
        .join(' ')}`,
    );
    line(`node ${process.version}, PostgreSQL ${pgVersion} (${gateway.embedded ? 'embedded' : 'DATABASE_URL'}), fresh database`);
    line(
      `gateway: this process, batching ${config.SWITCHYARD_INBOUND_BATCHING ? `on (≤ ${config.SWITCHYARD_INBOUND_BATCH_MAX_ROWS} rows, ${config.SWITCHYARD_INBOUND_BATCH_WINDOW_MS} ms window, ${config.SWITCHYARD_INBOUND_BATCH_IN_FLIGHT} in flight)` : 'off'}, ` +
        `source cache ${config.SWITCHYARD_SOURCE_CACHE_TTL_MS} ms, worker ${WITH_WORKER ? 'running' : 'not running (jobs accumulate: enqueue cost under a growing backlog)'}`,
    );
    line('load: autocannon 9 in a child process, Stripe-signed events, a new event id per request, signed when sent');

    const post = async (p: string, token: string, body: unknown) => {
      const res = await fetch(gateway.url + p, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, string>;
    };
    const merchant = await post('/admin/merchants', gateway.adminToken, { name: 'Bench' });
    const source = await post('/v1/sources', merchant.apiKey!, { provider: 'stripe', secret: SECRET });
    const template = stripeTemplate();
    line(`event body: ${Buffer.byteLength(template.replace('__EVT__', 'evt_bench_0000000').replace('__PI__', 'pi_bench_0000000'))} bytes`);
    const inboundUrl = `${gateway.url}/inbound/${source.id}`;

    const warm = await load(inboundUrl, 10, 2, 'warm', template);
    if (warm.ok === 0) throw new Error(`warm-up got no 200 (status codes ${JSON.stringify(warm.statusCodes)})`);
    const acked: string[] = [...warm.acked];

    // The ceilings: a table shaped like ours for single-row insert transactions, and a bare route.
    await sql`create table bench_ceiling (like gw.inbound_events including defaults including constraints including indexes)`;
    // the body columns live in gw.inbound_event_bodies (retention); the ceiling keeps them in its one row
    await sql`alter table bench_ceiling add column raw_body bytea not null, add column headers jsonb not null`;
    const body = new TextEncoder().encode(template);
    const ceilingLines: string[] = [];
    const ceilings = new Map<number, { inserts: number; bare: number }>();
    const bareApp = new Hono();
    bareApp.post('/bare', (c) => c.json({ received: true, duplicate: false }));
    bare = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: bareApp.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/bare`;
    line();
    line('gateway: POST /inbound/{sourceId}, durable acks (200 after commit)');
    // The embedded server's postmaster, to count PostgreSQL's CPU per ack (not known for DATABASE_URL).
    const postmaster = gateway.embedded
      ? Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]) || undefined
      : undefined;
    line(
      'connections  acks/s   p50 ms  p90 ms  p99 ms  max ms  non-200  errors  CPU µs/ack: gateway  postgres  load gen  batch rows (mean)',
    );
    const gatewayRuns = new Map<number, LoadResult>();
    for (const c of CONNECTIONS) {
      const cpu0 = process.cpuUsage();
      const pg0 = postmaster ? await pgCpuMs(postmaster) : NaN;
      const batches0 = batchCount(gateway.deps.inboundBatcher);
      const r = await load(inboundUrl, c, SECONDS, `c${c}`, template);
      const cpu = process.cpuUsage(cpu0);
      const pgMs = postmaster ? (await pgCpuMs(postmaster)) - pg0 : NaN;
      const batches = batchCount(gateway.deps.inboundBatcher) - batches0;
      acked.push(...r.acked);
      gatewayRuns.set(c, r);
      const non200 = Object.entries(r.statusCodes).reduce((a, [k, v]) => a + (k === '200' ? 0 : v), 0);
      line(
        `${String(c).padStart(11)}  ${String(round(r.ok / r.durationSeconds)).padStart(6)}  ${String(r.p50Ms).padStart(7)} ${String(r.p90Ms).padStart(7)} ${String(r.p99Ms).padStart(7)} ${String(r.maxMs).padStart(7)}  ${String(non200).padStart(7)}  ${String(r.errors + r.timeouts).padStart(6)}  ${String(round((cpu.user + cpu.system) / Math.max(1, r.ok))).padStart(19)}  ${String(round((pgMs * 1000) / Math.max(1, r.ok))).padStart(8)}  ${String(round(r.cpuMicros / Math.max(1, r.ok))).padStart(8)}  ${batches > 0 ? round(r.ok / batches, 1) : '-'}`,
      );
      if (CEILING_SECONDS > 0) {
        // The ceilings right after the gateway run at the same concurrency, so that the
        // ratios compare moments as close as a shared machine allows.
        const inserts = await insertCeiling(gateway.databaseUrl, c, CEILING_SECONDS, body);
        const b = await load(bareUrl, c, CEILING_SECONDS, `bare${c}`, template);
        const bareRate = b.ok / b.durationSeconds;
        ceilings.set(c, { inserts, bare: bareRate });
        const acks = r.ok / r.durationSeconds;
        ceilingLines.push(
          `${String(c).padStart(11)}  ${String(round(inserts)).padStart(9)}  ${String(round(bareRate)).padStart(11)}  ${String(round(acks / inserts, 2)).padStart(12)}  ${String(round(acks / bareRate, 2)).padStart(9)}`,
        );
      }
    }

    const found = await count(sql, acked);
    const missing = acked.length - found;
    const [{ rows, jobs }] = (await sql`
      select (select count(*)::int from gw.inbound_events) as rows,
             (select count(*)::int
                from graphile_worker._private_jobs j
                join graphile_worker._private_tasks t on t.id = j.task_id
               where t.identifier = 'process_inbound_event') as jobs`) as unknown as [{ rows: number; jobs: number }];
    line(
      `check: ${acked.length} answered 200, ${found} of them in gw.inbound_events, missing ${missing}; ${rows} rows in all, ${WITH_WORKER ? `${jobs} jobs still queued` : `${jobs} process_inbound_event jobs queued`}`,
    );
    line();
    line('ceilings, each measured right after the gateway run at the same concurrency: single-row insert transactions');
    line('(postgres.js, this process, a table shaped like gw.inbound_events) and a bare Hono route (@hono/node-server, this process)');
    line('connections  inserts/s  bare http/s  acks/inserts  acks/bare');
    for (const l of ceilingLines) line(l);

    const head = gatewayRuns.get(HEADLINE) ?? [...gatewayRuns.values()][0]!;
    const headC = gatewayRuns.has(HEADLINE) ? HEADLINE : CONNECTIONS[0]!;
    const ceil = ceilings.get(headC) ?? { inserts: NaN, bare: NaN };
    const acksPerSec = round(head.ok / head.durationSeconds);
    line();
    line(
      `at ${headC} connections: ${acksPerSec} acks/s = ${round(acksPerSec / ceil.inserts, 2)}× the insert ceiling, ${round(acksPerSec / ceil.bare, 2)}× bare HTTP; p99 ${head.p99Ms} ms; ` +
        `targets ≥ 5000 acks/s, ≥ 0.7× the ceiling, p99 ≤ 25 ms, 0 missing`,
    );
    line(
      JSON.stringify({
        bench: 'inbound',
        acksPerSec,
        p50Ms: head.p50Ms,
        p99Ms: head.p99Ms,
        ceilingInsertsPerSec: round(ceil.inserts),
        bareHttpPerSec: round(ceil.bare),
        missing,
      }),
    );
  } finally {
    bare?.close();
    await gateway.stop().catch(() => {});
    if (benchDb && adminUrl && process.env.BENCH_KEEP_DB !== '1') {
      const admin = createSql(adminUrl, { max: 1 });
      await admin.unsafe(`drop database if exists ${benchDb} with (force)`).catch(() => {});
      await admin.end();
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:inbound failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
