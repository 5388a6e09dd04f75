// `npm run bench:outbound`: deliveries per second to one fast receiver and to 100
// endpoints, and the delay of deliveries to healthy endpoints with and without one endpoint
// that hangs for 15 s, in one run. The receivers run in a child process. Prints figures
// and the machine; the last line is one JSON object. Not a test.
// Knobs (env): BENCH_SINGLE (messages to the fast receiver, 6000), BENCH_FANOUT_EVENTS (60),
// BENCH_STEADY_SECONDS (8), BENCH_STEADY_RATE (events/s, 100), BENCH_MAX_IN_FLIGHT (the fast
// endpoint's max_in_flight; default the column's, 8), BENCH_PG_LOG (a file the embedded PostgreSQL's log is appended
// to: a deadlock's DETAIL names both statements).
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { appendFile, chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/core/config.js';
import { createSql } from '../src/core/db/client.js';
import { startEmbeddedPostgres } from '../src/app/db/embedded-postgres.js';
import { migrate } from '../src/app/db/migrate.js';
import { systemClock } from '../src/core/clock.js';
import type { Deps } from '../src/core/deps.js';
import { nodeHmacBackend } from '../src/app/node/hmac-backend.js';
import { startRunner } from '../src/app/worker.js';
import { createLogger } from '../src/app/node/logger.js';
import { createSecretBox, generateMasterKey } from '../src/core/secrets.js';
import { emitEvent } from '../src/core/events/outbox.js';
import { generateEndpointSecret } from '../src/outbound/sign.js';
import { createGuardedAgent } from '../src/outbound/ssrf.js';
import { insertEndpoint } from '../src/outbound/endpoints/endpoint-store.js';

const SINGLE = Number(process.env.BENCH_SINGLE ?? 6000);
const FANOUT_EVENTS = Number(process.env.BENCH_FANOUT_EVENTS ?? 60);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 8);
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 100);

type Stats = { count: number; delays: number[] };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** CPU time (user + system) of a process on this machine, ms; 0 when it is gone or unreadable. */
async function processCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from #3 on
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

function startReceivers(): Promise<{ child: ChildProcess; port: number; stats(path: string): Promise<Stats>; reset(): Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./receiver-child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve) => {
    const pending = new Map<number, (v: unknown) => void>();
    let seq = 0;
    const ask = (msg: Record<string, unknown>) =>
      new Promise<unknown>((r) => {
        const id = ++seq;
        pending.set(id, r);
        child.send({ ...msg, id });
      });
    child.on('message', (m: { ready?: number; id?: number; value?: unknown }) => {
      if (m.ready) {
        resolve({
          child,
          port: m.ready,
          stats: (p) => ask({ stats: p }) as Promise<Stats>,
          reset: async () => void (await ask({ reset: true })),
        });
      } else if (m.id) {
        pending.get(m.id)?.(m.value);
        pending.delete(m.id);
      }
    });
  });
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-'));
  await chmod(tmp, 0o755);
  let databaseUrl = process.env.DATABASE_URL;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  if (databaseUrl) {
    const admin = createSql(databaseUrl, { max: 1 });
    const name = `sy_bench_${process.pid}`;
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const u = new URL(databaseUrl);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
  } else {
    const pgLog = process.env.BENCH_PG_LOG;
    embedded = await startEmbeddedPostgres(path.join(tmp, 'pg'), {
      persistent: false,
      ...(pgLog ? { onLog: (line: string) => void appendFile(pgLog, line.endsWith('\n') ? line : `${line}\n`) } : {}),
    });
    databaseUrl = embedded.url;
  }
  const sql = createSql(databaseUrl, { max: 30 });
  await migrate(sql, databaseUrl);
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    LOG_LEVEL: 'silent',
    ...(process.env.SWITCHYARD_WORKER_CONCURRENCY ? { SWITCHYARD_WORKER_CONCURRENCY: process.env.SWITCHYARD_WORKER_CONCURRENCY } : {}),
  });
  const deps: Deps = {
    sql,
    config,
    clock: systemClock,
    logger: createLogger('silent'),
    secretBox: await createSecretBox(generateMasterKey()),
    adminToken: 'unused-admin-token-0000',
    dispatcher: createGuardedAgent({ allowPrivate: true }),
    hmac: nodeHmacBackend,
  };
  const receivers = await startReceivers();
  const base = `http://127.0.0.1:${receivers.port}`;
  const [merchantRow] = await sql<{ id: string }[]>`insert into gw.merchants (id, name) values ('mch_bench', 'Bench') returning id`;
  const merchantId = merchantRow!.id;
  const endpoint = async (url: string, types: string[]) =>
    (
      await insertEndpoint(sql, {
        merchantId,
        url,
        description: null,
        eventTypes: types,
        rateLimitPerSecond: null,
        secretEnvelope: await deps.secretBox.encrypt(generateEndpointSecret()),
      })
    ).id;
  const emitMany = async (type: string, n: number, tag: string) => {
    for (let i = 0; i < n; i += 200) {
      await sql.begin(async (tx) => {
        for (let j = i; j < Math.min(n, i + 200); j++) {
          await emitEvent(tx, { merchantId, type, paymentId: null, dedupeKey: `${tag}-${j}`, data: { n: j }, at: new Date() });
        }
      });
    }
  };
  const pendingCount = async () => (await sql<{ n: number }[]>`select count(*)::int as n from gw.messages where status = 'pending'`)[0]!.n;
  const drain = async (limitMs = 300_000) => {
    const until = Date.now() + limitMs;
    while ((await pendingCount()) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  };
  const runner = await startRunner(deps, { connectionString: databaseUrl, concurrency: config.SWITCHYARD_WORKER_CONCURRENCY });
  try {
    // 1. one fast receiver: a backlog of SINGLE messages drained
    const fastId = await endpoint(`${base}/fast`, ['bench.single']);
    if (process.env.BENCH_MAX_IN_FLIGHT)
      await sql`update gw.endpoints set max_in_flight = ${Number(process.env.BENCH_MAX_IN_FLIGHT)} where id = ${fastId}`;
    await runner.stop();
    await emitMany('bench.single', SINGLE, 'single');
    // CPU spent on the drain, per delivery: this process (the worker), the PostgreSQL
    // backends of the bench's database (same machine), the receivers' process. Less
    // sensitive to other load on the machine than deliveries/s.
    const backendsCpu = async () => {
      const pids = await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database()`;
      return new Map(await Promise.all(pids.map(async (p) => [p.pid, await processCpuMs(p.pid)] as const)));
    };
    const pgBefore = await backendsCpu();
    const receiverBefore = await processCpuMs(receivers.child.pid!);
    const nodeBefore = process.cpuUsage();
    let t = performance.now();
    const runner1 = await startRunner(deps, { connectionString: databaseUrl, concurrency: config.SWITCHYARD_WORKER_CONCURRENCY });
    await drain();
    const singleSeconds = (performance.now() - t) / 1000;
    const nodeCpu = process.cpuUsage(nodeBefore);
    let pgCpuMs = 0;
    for (const [pid, ms] of await backendsCpu()) pgCpuMs += ms - (pgBefore.get(pid) ?? 0);
    const receiverCpuMs = (await processCpuMs(receivers.child.pid!)) - receiverBefore;
    const single = await receivers.stats('/fast');
    const perDelivery = (ms: number) => (ms / Math.max(1, single.count)).toFixed(3);
    const cpuLine = `CPU per delivery to the fast receiver: worker ${perDelivery((nodeCpu.user + nodeCpu.system) / 1000)} ms, PostgreSQL ${perDelivery(pgCpuMs)} ms, receivers ${perDelivery(receiverCpuMs)} ms`;

    // 2. 100 endpoints: FANOUT_EVENTS events, each to every endpoint
    for (let i = 0; i < 100; i++) await endpoint(`${base}/fanout/${i}`, ['bench.fanout']);
    await runner1.stop();
    await emitMany('bench.fanout', FANOUT_EVENTS, 'fanout');
    t = performance.now();
    const runner2 = await startRunner(deps, { connectionString: databaseUrl, concurrency: config.SWITCHYARD_WORKER_CONCURRENCY });
    await drain();
    const fanoutSeconds = (performance.now() - t) / 1000;

    // 3. steady traffic to 10 healthy endpoints, then the same with one endpoint hanging 15 s
    for (let i = 0; i < 10; i++) await endpoint(`${base}/healthy/${i}`, ['bench.steady']);
    const steady = async (tag: string) => {
      await receivers.reset();
      const started = Date.now();
      let n = 0;
      while (Date.now() - started < STEADY_SECONDS * 1000) {
        const due = Math.floor(((Date.now() - started) / 1000) * STEADY_RATE);
        // each event in its own transaction, as processing emits them
        for (; n < due; n++)
          await sql.begin((tx) =>
            emitEvent(tx, { merchantId, type: 'bench.steady', paymentId: null, dedupeKey: `${tag}-${n}`, data: { n }, at: new Date() }),
          );
        await new Promise((r) => setTimeout(r, 5));
      }
      const until = Date.now() + 60_000;
      let s: Stats;
      do {
        s = await receivers.stats('/healthy');
        if (s.count >= n * 10) break;
        await new Promise((r) => setTimeout(r, 50));
      } while (Date.now() < until);
      // Where the delay goes: from the event's creation to the attempt's start (queued), and
      // the attempt itself (sending), per healthy delivery of this phase, ms.
      const [split] = await sql<{ q50: number; q99: number; s50: number; s99: number }[]>`
        select percentile_disc(0.5) within group (order by q) as q50, percentile_disc(0.99) within group (order by q) as q99,
               percentile_disc(0.5) within group (order by a.duration_ms) as s50, percentile_disc(0.99) within group (order by a.duration_ms) as s99
          from gw.attempts a
          join gw.events e on e.id = a.event_id
          join gw.endpoints p on p.id = a.endpoint_id
          cross join lateral (select extract(epoch from a.attempted_at - e.created_at) * 1000 as q) q
         where e.dedupe_key like ${`${tag}-%`} and p.url like '%/healthy/%'`;
      return { sent: n, ...s, split: split! };
    };
    const calm = await steady('calm');
    const hangId = await endpoint(`${base}/hang`, ['bench.steady']);
    const stormy = await steady('stormy');
    await sql`update gw.endpoints set status = 'disabled' where id = ${hangId}`;
    await runner2.stop();

    const failures = await sql<{ error: string | null; response_status: number | null; n: number }[]>`
      select error, response_status, count(*)::int as n from gw.attempts where status = 'failed'
       group by 1, 2 order by n desc limit 5`;
    const deliveriesPerSec = Math.round(single.count / singleSeconds);
    const fanoutPerSec = Math.round((FANOUT_EVENTS * 100) / fanoutSeconds);
    const cpu = os.cpus();
    const [pg] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    console.log(
      `machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, PostgreSQL ${pg?.v}, worker concurrency ${config.SWITCHYARD_WORKER_CONCURRENCY}`,
    );
    console.log(`one fast receiver: ${single.count} deliveries in ${singleSeconds.toFixed(2)} s = ${deliveriesPerSec} deliveries/s`);
    console.log(cpuLine);
    console.log(`100 endpoints: ${FANOUT_EVENTS * 100} deliveries in ${fanoutSeconds.toFixed(2)} s = ${fanoutPerSec} deliveries/s`);
    console.log(
      `healthy endpoints, ${calm.sent} events (${Math.round(calm.sent / STEADY_SECONDS)}/s, target ${STEADY_RATE}/s) × 10 endpoints for ${STEADY_SECONDS} s: p50 ${pct(calm.delays, 50)} ms, p99 ${pct(calm.delays, 99)} ms (n=${calm.count})`,
    );
    const splitLine = (x: typeof calm.split) =>
      `queued p50 ${Math.round(x.q50)} ms, p99 ${Math.round(x.q99)} ms; sending p50 ${x.s50} ms, p99 ${x.s99} ms`;
    console.log(`  healthy, calm:   ${splitLine(calm.split)}`);
    console.log(`  healthy, stormy: ${splitLine(stormy.split)}`);
    console.log(
      `the same plus one endpoint hanging 15 s, ${stormy.sent} events: p50 ${pct(stormy.delays, 50)} ms, p99 ${pct(stormy.delays, 99)} ms (n=${stormy.count}); p99 ratio ${(pct(stormy.delays, 99) / pct(calm.delays, 99)).toFixed(2)}×`,
    );
    console.log(`failed attempts: ${failures.map((f) => `${f.n} × ${f.error ?? f.response_status}`).join(', ') || 'none'}`);
    console.log(
      JSON.stringify({
        bench: 'outbound',
        deliveriesPerSec,
        fanoutDeliveriesPerSec: fanoutPerSec,
        healthyP99Ms: pct(calm.delays, 99),
        healthyP99WithHangMs: pct(stormy.delays, 99),
      }),
    );
  } finally {
    receivers.child.kill();
    await deps.dispatcher?.close();
    await sql.end({ timeout: 5 });
    await embedded?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
