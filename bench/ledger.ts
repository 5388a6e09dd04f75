// `npm run bench:ledger`: how fast stored inbound events become payments, ledger postings and
// outbound events, end to end through the `process_inbound_event` task (inbound row → payment
// → operations/transitions → ledger → outbound event → inbound row processed), with 1 worker
// and with N, directly and through graphile-worker; and, in the same run on the same
// database, the raw single-row INSERT rate as the ceiling. Prints figures; asserts only that
// the ledger balances and nothing was left unprocessed. Not a test.
//
// PostgreSQL: DATABASE_URL (an admin URL; a scratch database is created and dropped), or, when
// unset, an embedded server in a temporary directory (BENCH_PG_STATS=1 loads pg_stat_statements
// there, and the risk comparison prints the statements whose time grew most with the rules on).
// Knobs: BENCH_PAYMENTS (per phase, default 1000; 3 events each), BENCH_WORKERS (default 8),
// BENCH_ENDPOINTS (endpoints subscribed to every event, default 0), BENCH_CEILING_MS (2000),
// BENCH_RISK_ONLY=1 (only the risk-rules comparison: batched task with 0 and with 20 enabled rules,
// alternated 0, 20, 0, …, 20, 0 with BENCH_RISK_PASSES 20-rule runs, default 3, on a merchant whose payments name
// customers; each 20-rule run is compared with the mean of the 0-rule runs on either side). The other phases run with
// no rule enabled.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { loadConfig } from '../src/core/config.js';
import { createSql, guardBegin, type Sql } from '../src/core/db/client.js';
import { processCpuMs } from './e2e-proc.js';
import { migrate } from '../src/app/db/migrate.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/app/db/embedded-postgres.js';
import type { Deps } from '../src/core/deps.js';
import { newId } from '../src/core/ids.js';
import { createLogger } from '../src/app/node/logger.js';
import { startRunner } from '../src/app/worker.js';
import { checkLedger } from '../src/core/ledger/ledger-store.js';
import { createSecretBox, generateMasterKey } from '../src/core/secrets.js';
import { systemClock } from '../src/core/clock.js';
import { processInboundEvent, processInboundEvents } from '../src/inbound/process-event.task.js';
import { buildStripeEvent } from '../src/dev/simulate/stripe.js';
import { RiskRuleCache } from '../src/core/risk/assess.js';

const RISK_ONLY = process.env.BENCH_RISK_ONLY === '1';
const RISK_PASSES = Number(process.env.BENCH_RISK_PASSES ?? 3);

/** Twenty rules of the kinds merchants write (README "Risk rules"), velocity and duplicate counts included; few match. */
const TWENTY_RULES: [action: string, expression: string][] = [
  ['review', 'amount > 1000000'],
  ['review', 'currency == "EUR" && amount > 50000'],
  ['review', 'duplicates_24h > 2'],
  ['review', 'count_same_customer_24h > 500'],
  ['block', 'amount_same_customer_24h > 100000000'],
  ['block', 'customer.email_domain == "fraud.test"'],
  ['block', 'card.country in ["KP", "IR"]'],
  ['review', 'is_round_amount && amount > 1000000'],
  ['review', 'metadata.risk == "high"'],
  ['block', 'count_same_fingerprint_1h > 10'],
  ['review', 'is_first_seen_card && amount > 500000'],
  ['block', 'customer.id in list("blocked_customers")'],
  ['review', 'ip_country == "XX"'],
  ['review', 'card.bin.startsWith("999")'],
  ['review', 'source.provider == "adyen" && amount > 10'],
  ['review', 'amount_major > 99999.0'],
  ['allow', 'customer.email_domain == "trusted.test"'],
  ['review', 'payment_method.type == "crypto"'],
  ['block', 'customer.email.endsWith("@mailinator.com")'],
  ['review', 'amount < 0'],
];

const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 1000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 0);
const CEILING_MS = Number(process.env.BENCH_CEILING_MS ?? 2000);
const BATCH = Number(process.env.BENCH_BATCH ?? 50);
const PG_STATS = process.env.BENCH_PG_STATS === '1';

const withDatabase = (url: string, db: string): string => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
const round = (x: number): number => Math.round(x);
let statements = 0;

/** Stores `payments` payments' worth of Stripe events (succeeded, two partial refunds) as received inbound rows. */
async function storeEvents(
  sql: Sql,
  merchantId: string,
  sourceId: string,
  tag: string,
  payments: number,
  customers = 0,
): Promise<string[]> {
  const rows: {
    id: string;
    source_id: string;
    merchant_id: string;
    event_id: string;
    event_type: string;
    raw_body: Buffer;
    headers: Record<string, string>;
  }[] = [];
  for (let i = 0; i < payments; i++) {
    const pi = `pi_${tag}_${i}`;
    const amount = 1000 + i;
    for (const [type, refunded] of [
      ['payment_intent.succeeded', undefined],
      ['charge.refunded', Math.floor(amount / 4)],
      ['charge.refunded', Math.floor(amount / 2)],
    ] as const) {
      const event = buildStripeEvent(type, { paymentIntent: pi, amount, ...(refunded !== undefined ? { amountRefunded: refunded } : {}) });
      if (customers > 0) {
        const object = (event.data as { object: Record<string, unknown> }).object;
        object.customer = `cus_${i % customers}`;
        object.receipt_email = `shopper${i % customers}@example.com`;
      }
      rows.push({
        id: newId('iev'),
        source_id: sourceId,
        merchant_id: merchantId,
        event_id: event.id as string,
        event_type: type,
        raw_body: Buffer.from(JSON.stringify(event)),
        headers: {},
      });
    }
  }
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500);
    const input = batch.map((r) => ({ ...r, raw_body: r.raw_body.toString('base64') }));
    await sql`
      with r as (
        select * from json_to_recordset(${sql.json(input)}::json)
                 as r(id text, source_id text, merchant_id text, event_id text, event_type text, raw_body text, headers jsonb)
      ), ins as (
        insert into gw.inbound_events (id, source_id, merchant_id, event_id, event_type)
        select id, source_id, merchant_id, event_id, event_type from r
        returning id
      )
      insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers)
      select ins.id, decode(r.raw_body, 'base64'), r.headers from ins join r on r.id = ins.id`;
  }
  return rows.map((r) => r.id);
}

/**
 * Processes `ids` with `workers` concurrent callers of the task, one event per call, or
 * `batch` per call of processInboundEvents; returns seconds and postings made.
 */
async function drain(deps: Deps, ids: string[], workers: number, batch = 1): Promise<{ seconds: number; postings: number }> {
  const [before] = await deps.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions`;
  // interleave payments, so concurrent workers meet on shared accounts and, now and then, on one payment
  const queue = [...ids].sort(() => Math.random() - 0.5);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < queue.length) {
        if (batch === 1) {
          await processInboundEvent(deps, { inboundEventId: queue[next++]! });
        } else {
          const chunk = queue.slice(next, next + batch);
          next += batch;
          await processInboundEvents(deps, chunk);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const [after] = await deps.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions`;
  return { seconds, postings: after!.n - before!.n };
}

/** Single-row INSERT transactions, `connections` at a time, for CEILING_MS: rows per second. */
async function ceiling(sql: Sql, connections: number): Promise<number> {
  await sql`create table if not exists bench_ceiling (id bigint generated always as identity primary key, k text not null, v bigint not null)`;
  let n = 0;
  const end = performance.now() + CEILING_MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      while (performance.now() < end) {
        await sql`insert into bench_ceiling (k, v) values (${`c${c}`}, ${n})`;
        n += 1;
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** DATABASE_URL, or a new embedded server in a temporary directory (with pg_stat_statements when BENCH_PG_STATS=1). */
async function startServer(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { adminUrl: process.env.DATABASE_URL, stop: async () => {} };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-ledger-'));
  await chmod(tmp, 0o755);
  const pgDir = path.join(tmp, 'pg');
  let embedded: EmbeddedDatabase = await startEmbeddedPostgres(pgDir, { persistent: true });
  if (PG_STATS) {
    // pg_stat_statements must be loaded at server start: set it, then restart on the same data
    const admin = postgres(embedded.adminUrl, { max: 1, onnotice: () => {} });
    await admin`alter system set shared_preload_libraries = 'pg_stat_statements'`;
    await admin`alter system set pg_stat_statements.track_planning = on`;
    await admin.end();
    await embedded.stop();
    embedded = await startEmbeddedPostgres(pgDir, { persistent: true });
  }
  return {
    adminUrl: embedded.adminUrl,
    stop: async () => {
      await embedded.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const server = await startServer();
  const adminUrl = server.adminUrl;
  const dbName = `bench_ledger_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = withDatabase(adminUrl, dbName);
  // statements sent, counted through postgres.js's debug hook (the risk comparison reports them per event)
  const sql = RISK_ONLY
    ? guardBegin(
        postgres(url, {
          max: WORKERS + 4,
          onnotice: () => {},
          connection: { application_name: 'bench-ledger' },
          debug: () => {
            statements += 1;
          },
        }),
      )
    : createSql(url, { max: WORKERS + 4, applicationName: 'bench-ledger' });
  try {
    await migrate(sql, url);
    const config = loadConfig({ DATABASE_URL: url, SWITCHYARD_ALLOW_PRIVATE_URLS: 'true', NODE_ENV: 'test', LOG_LEVEL: 'silent' });
    const warnings: string[] = [];
    const silent = createLogger('silent');
    const logger = Object.assign(Object.create(silent) as typeof silent, {
      warn: (obj: { err?: { code?: string } }) => void warnings.push(String(obj.err?.code ?? 'error')),
    });
    const deps: Deps = {
      sql,
      config,
      clock: systemClock,
      logger,
      secretBox: await createSecretBox(generateMasterKey()),
      adminToken: 'bench',
      riskRules: new RiskRuleCache(),
    };
    const merchantId = newId('mch');
    const sourceId = newId('src');
    await sql`insert into gw.merchants (id, name) values (${merchantId}, 'Bench')`;
    await sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchantId}, 'stripe')`;
    // the phases below measure processing without risk rules: the built-in duplicate rule off
    await sql`update gw.risk_rules set enabled = false, version = version + 1 where merchant_id = ${merchantId}`;
    if (RISK_ONLY) {
      await riskComparison(deps, sql);
      return;
    }
    for (let e = 0; e < ENDPOINTS; e++) {
      await sql`insert into gw.endpoints (id, merchant_id, url, status) values (${newId('ep')}, ${merchantId}, ${`http://127.0.0.1:9/${e}`}, 'enabled')`;
    }

    // warm-up (plans, connections, accounts)
    await drain(deps, await storeEvents(sql, merchantId, sourceId, 'warm', 50), WORKERS);

    const one = await drain(deps, await storeEvents(sql, merchantId, sourceId, 'one', PAYMENTS), 1);
    const many = await drain(deps, await storeEvents(sql, merchantId, sourceId, 'many', PAYMENTS), WORKERS);
    const batchedOne = await drain(deps, await storeEvents(sql, merchantId, sourceId, 'b1', PAYMENTS), 1, BATCH);
    const batched = await drain(deps, await storeEvents(sql, merchantId, sourceId, 'bn', PAYMENTS), WORKERS, BATCH);

    // through graphile-worker and Switchyard's runner: first the jobs the inbound route queues
    // now, one per ingest batch ({inboundEventIds}: BATCH events in arrival order, here
    // shuffled across payments), then one job per event ({inboundEventId}, the form queued
    // before batches); the runner's jobs running together share transactions of up to
    // SWITCHYARD_PROCESS_BATCH_SIZE events
    const viaGraphile = async (tag: string, specsOf: (ids: string[]) => { identifier: string; payload: unknown }[]) => {
      const queued = await storeEvents(sql, merchantId, sourceId, tag, PAYMENTS);
      const specs = specsOf(queued.sort(() => Math.random() - 0.5));
      for (let i = 0; i < specs.length; i += 500) {
        await sql`select graphile_worker.add_jobs(array(select json_populate_recordset(null::graphile_worker.job_spec, ${sql.json(specs.slice(i, i + 500) as never)}::json)))`;
      }
      const [before] = await sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions`;
      const t0 = performance.now();
      const runner = await startRunner(deps, { connectionString: url, concurrency: WORKERS, pollIntervalMs: 100 });
      for (;;) {
        const [left] = await sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events where status = 'received'`;
        if (left!.n === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - t0) / 1000;
      await runner.stop();
      // (deliver_message jobs, with BENCH_ENDPOINTS, are left queued: delivery is not measured here)
      const processJobs = () => sql<{ n: number }[]>`
        select count(*)::int as n
          from graphile_worker._private_jobs j
          join graphile_worker._private_tasks t on t.id = j.task_id
         where t.identifier = 'process_inbound_event'`;
      const [jobsLeft] = await processJobs();
      if (jobsLeft!.n > 0) {
        // the jobs of events another job already processed: let them finish (cheap) before the next phase
        const r = await startRunner(deps, { connectionString: url, concurrency: WORKERS, pollIntervalMs: 100 });
        for (;;) {
          const [n] = await processJobs();
          if (n!.n === 0) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        await r.stop();
      }
      const [after] = await sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions`;
      return { seconds, postings: after!.n - before!.n };
    };
    const gwIngest = await viaGraphile('gwi', (ids) => {
      const specs = [];
      for (let i = 0; i < ids.length; i += BATCH)
        specs.push({ identifier: 'process_inbound_event', payload: { inboundEventIds: ids.slice(i, i + BATCH) } });
      return specs;
    });
    const gw1 = await viaGraphile('gw1', (ids) =>
      ids.map((id) => ({ identifier: 'process_inbound_event', payload: { inboundEventId: id } })),
    );

    const ceiling1 = await ceiling(sql, 1);
    const ceilingN = await ceiling(sql, WORKERS);

    const check = await checkLedger(sql, merchantId);
    const [left] = await sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events where status <> 'processed'`;
    const [pg] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    const [load] = [os.loadavg()];
    const events = PAYMENTS * 3;
    const cpu = os.cpus();
    console.log(
      `machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, load average ${load!.map((l) => l.toFixed(1)).join(' ')}, node ${process.version}, PostgreSQL ${pg?.v}`,
    );
    console.log(
      `workload: ${PAYMENTS} Stripe payments per phase × 3 events (succeeded, two partial refunds) = ${events} events, 3 postings per payment, ${ENDPOINTS} endpoint(s) on one merchant's shared accounts`,
    );
    console.log(
      `task, 1 worker:            ${round(events / one.seconds)} events/s, ${round(one.postings / one.seconds)} postings/s (${((one.seconds * 1000) / events).toFixed(2)} ms/event)`,
    );
    console.log(
      `task, ${WORKERS} workers:           ${round(events / many.seconds)} events/s, ${round(many.postings / many.seconds)} postings/s`,
    );
    console.log(
      `task in batches of ${BATCH}, 1 worker: ${round(events / batchedOne.seconds)} events/s, ${round(batchedOne.postings / batchedOne.seconds)} postings/s`,
    );
    console.log(
      `task in batches of ${BATCH}, ${WORKERS} workers: ${round(events / batched.seconds)} events/s, ${round(batched.postings / batched.seconds)} postings/s`,
    );
    console.log(
      `graphile-worker, ${WORKERS} jobs at once, one job per ingest batch of ${BATCH} events: ${round(events / gwIngest.seconds)} events/s, ${round(gwIngest.postings / gwIngest.seconds)} postings/s`,
    );
    console.log(
      `graphile-worker, ${WORKERS} jobs at once, one job per event (jobs running together share a transaction of up to ${config.SWITCHYARD_PROCESS_BATCH_SIZE} events): ${round(events / gw1.seconds)} events/s, ${round(gw1.postings / gw1.seconds)} postings/s`,
    );
    console.log(`ceiling, single-row INSERT transactions: ${round(ceiling1)}/s with 1 connection, ${round(ceilingN)}/s with ${WORKERS}`);
    console.log(
      `ledger balanced: ${check.balanced}; inbound events not processed: ${left!.n}; batches retried one at a time: ${warnings.length} (${[...new Set(warnings)].join(', ')})`,
    );
    console.log(
      JSON.stringify({
        bench: 'ledger',
        eventsPerSec: round(events / gwIngest.seconds),
        postingsPerSec: round(gwIngest.postings / gwIngest.seconds),
        ceilingInsertsPerSec: round(ceilingN),
        eventsPerSecUnbatched: round(events / many.seconds),
        eventsPerSecOneWorker: round(events / one.seconds),
        eventsPerSecBatchedOneWorker: round(events / batchedOne.seconds),
        batch: BATCH,
        eventsPerSecTaskBatched: round(events / batched.seconds),
        eventsPerSecGraphileWorkerJobPerEvent: round(events / gw1.seconds),
        ceilingInsertsPerSecOneConnection: round(ceiling1),
        workers: WORKERS,
        balanced: check.balanced,
      }),
    );
    if (!check.balanced || left!.n !== 0) process.exitCode = 1;
  } finally {
    await sql.end();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    await server.stop();
  }
}

/**
 * The batched task (BATCH events per transaction, WORKERS at once) on one merchant with its rules off, then with 20
 * enabled rules, alternated (0, 20, 0, …, 20, 0: RISK_PASSES runs with rules, one more without) so a change of the
 * shared machine's load hits both; prints each run, the ratio of each 20-rule run to the mean of its two neighbours
 * and their median, and the ratio of the sums.
 */
async function riskComparison(deps: Deps, sql: Sql): Promise<void> {
  const merchantId = newId('mch');
  const sourceId = newId('src');
  await sql`insert into gw.merchants (id, name) values (${merchantId}, 'Bench risk')`;
  await sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchantId}, 'stripe')`;
  await sql`update gw.risk_rules set enabled = false, version = version + 1 where merchant_id = ${merchantId}`;
  for (const [n, [action, expression]] of TWENTY_RULES.entries()) {
    await sql`insert into gw.risk_rules (id, merchant_id, name, action, expression, enabled)
              values (${newId('rul')}, ${merchantId}, ${`bench rule ${n}`}, ${action}, ${expression}, false)`;
  }
  const setRules = (on: boolean) =>
    sql`update gw.risk_rules set enabled = ${on}, version = version + 1 where merchant_id = ${merchantId} and built_in is null`;
  await drain(deps, await storeEvents(sql, merchantId, sourceId, 'rwarm', 100, 200), WORKERS, BATCH);
  if (PG_STATS) await sql`create extension if not exists pg_stat_statements`;
  const statementTime: Record<'0' | '20', Map<string, { calls: number; ms: number }>> = { '0': new Map(), '20': new Map() };
  const seconds: Record<'0' | '20', number[]> = { '0': [], '20': [] };
  const cost: Record<'0' | '20', { nodeMs: number; pgMs: number; statements: number }[]> = { '0': [], '20': [] };
  // 0, 20, 0, 20, …, 0: each 20-rule run sits between two 0-rule runs (throughput drifts as the tables grow)
  const runs = Array.from({ length: RISK_PASSES * 2 + 1 }, (_, i) => (i % 2 === 0 ? '0' : '20') as '0' | '20');
  for (const [run, rules] of runs.entries()) {
    await setRules(rules === '20');
    const ids = await storeEvents(sql, merchantId, sourceId, `r${rules}_${run}`, PAYMENTS, 200);
    if (PG_STATS) await sql`select pg_stat_statements_reset()`;
    const before = await costSoFar(sql);
    const r = await drain(deps, ids, WORKERS, BATCH);
    const after = await costSoFar(sql);
    if (PG_STATS) {
      const rows = await sql<{ query: string; calls: string; ms: number }[]>`
        select s.query, s.calls::text, s.total_exec_time + s.total_plan_time as ms
          from pg_stat_statements s join pg_database d on d.oid = s.dbid
         where d.datname = current_database()`;
      const into = statementTime[rules];
      for (const row of rows) {
        const e = into.get(row.query) ?? { calls: 0, ms: 0 };
        into.set(row.query, { calls: e.calls + Number(row.calls), ms: e.ms + row.ms });
      }
    }
    seconds[rules].push(r.seconds);
    cost[rules].push({
      nodeMs: after.nodeMs - before.nodeMs,
      pgMs: after.pgMs - before.pgMs,
      statements: after.statements - before.statements - 3,
    });
  }
  const [decisions] = await sql<{ n: number; bytes: number; table: string }[]>`
    select count(*)::int as n, avg(pg_column_size(d.*))::int as bytes, pg_size_pretty(pg_total_relation_size('gw.risk_decisions')) as table
    from gw.risk_decisions d where merchant_id = ${merchantId}`;
  const events = PAYMENTS * 3;
  const cpu = os.cpus();
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  console.log(
    `machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, node ${process.version}`,
  );
  console.log(
    `workload: ${PAYMENTS} Stripe payments per run × 3 events, 200 customers, batches of ${BATCH}, ${WORKERS} workers; runs alternated 0, 20, 0, …: ${RISK_PASSES} with 20 rules, ${RISK_PASSES + 1} with 0`,
  );
  for (const rules of ['0', '20'] as const) {
    console.log(`${rules.padStart(2)} enabled rules: ${seconds[rules].map((x) => `${round(events / x)} events/s`).join(', ')}`);
  }
  for (const rules of ['0', '20'] as const) {
    const c = cost[rules];
    const per = (f: (x: (typeof c)[number]) => number) => (sum(c.map(f)) / (c.length * events)).toFixed(3);
    console.log(
      `${rules.padStart(2)} enabled rules, per event: node CPU ${per((x) => x.nodeMs)} ms, PostgreSQL backends' CPU ${per((x) => x.pgMs)} ms, statements ${per((x) => x.statements)}`,
    );
  }
  if (PG_STATS) {
    // planning and execution time (not CPU: lock waits count) per statement text, summed over the runs, per event
    const grown = [...new Set([...statementTime['0'].keys(), ...statementTime['20'].keys()])]
      .map((q) => {
        const a = statementTime['0'].get(q) ?? { calls: 0, ms: 0 };
        const b = statementTime['20'].get(q) ?? { calls: 0, ms: 0 };
        return { q, a, b, d: b.ms / seconds['20'].length - a.ms / seconds['0'].length };
      })
      .sort((x, y) => y.d - x.d)
      .slice(0, 12);
    const per = (ms: number, rules: '0' | '20') => ((ms / (seconds[rules].length * events)) * 1000).toFixed(1);
    console.log('statements whose planning + execution time grew most with 20 rules (µs per event: 0 rules → 20 rules; calls per run):');
    for (const g of grown)
      console.log(
        `  ${per(g.a.ms, '0')} → ${per(g.b.ms, '20')} µs; ${Math.round(g.a.calls / seconds['0'].length)} → ${Math.round(g.b.calls / seconds['20'].length)}: ${g.q.replace(/\s+/g, ' ').slice(0, 160)}`,
      );
    const total = (m: Map<string, { ms: number }>) => [...m.values()].reduce((x, y) => x + y.ms, 0);
    console.log(`  all statements: ${per(total(statementTime['0']), '0')} → ${per(total(statementTime['20']), '20')} µs per event`);
  }
  const ratio = sum(seconds['20']) / sum(seconds['0'].slice(0, -1).map((t, i) => (t + seconds['0'][i + 1]!) / 2));
  // each 20-rule run over the mean of the 0-rule runs just before and after it: neighbours share the machine's load of
  // the moment, and a steady drift (the tables grow from run to run) cancels out
  const passRatios = seconds['20'].map((t, i) => t / ((seconds['0'][i]! + seconds['0'][i + 1]!) / 2));
  const medianRatio = [...passRatios].sort((a, b) => a - b)[Math.floor(passRatios.length / 2)]!;
  console.log(`time with 20 rules / time with 0, per pass: ${passRatios.map((r) => r.toFixed(3)).join(', ')}`);
  console.log(
    `median of the passes: ${medianRatio.toFixed(3)} (${((medianRatio - 1) * 100).toFixed(1)} %); of the sums: ${ratio.toFixed(3)}; decisions recorded: ${decisions!.n}, ${decisions!.bytes} bytes a row on average (table with indexes and TOAST: ${decisions!.table})`,
  );
  console.log(
    JSON.stringify({
      bench: 'ledger-risk',
      eventsPerSec0: seconds['0'].map((x) => round(events / x)),
      eventsPerSec20: seconds['20'].map((x) => round(events / x)),
      ratio,
      passRatios,
      medianRatio,
      cost,
    }),
  );
}

/** This process's CPU time, the bench database's backends' CPU time (ms) and the statements sent so far. */
async function costSoFar(sql: Sql): Promise<{ nodeMs: number; pgMs: number; statements: number }> {
  const backends = await sql<
    { pid: number }[]
  >`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
  const cpu = process.cpuUsage();
  let pgMs = 0;
  for (const b of backends) pgMs += (await processCpuMs(b.pid)) || 0;
  return { nodeMs: (cpu.user + cpu.system) / 1000, pgMs, statements };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
