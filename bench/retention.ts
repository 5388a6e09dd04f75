// `npm run bench:retention [-- --events N --months M --days D]`: table sizes and purge time as time-shifted
// traffic fills the retained tables month after month (docs/architecture.md "Retention"). Each simulated month
// gets N/M events, each event being one inbound event with its raw body, one outbound event with its payload, one
// message and one attempt with its response body; then the real cron tasks run with the clock at the month's
// end: create_retention_partitions, then purge_expired_partitions (retention D days, default 30). Prints, per
// month, the rows dropped, the purge's wall time, and the size of the body tables (flat once retention applies)
// and of the rows kept forever. Runs on a fresh embedded PostgreSQL in a temporary directory, or a fresh database
// on DATABASE_URL's server. Not a test; asserts only that the body tables hold at most two months at the end.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { loadConfig } from '../src/core/config.js';
import { createSql, type Sql } from '../src/core/db/client.js';
import type { Deps } from '../src/core/deps.js';
import { fixedClock } from '../src/core/clock.js';
import { migrate } from '../src/app/db/migrate.js';
import { startEmbeddedPostgres } from '../src/app/db/embedded-postgres.js';
import { createLogger } from '../src/app/node/logger.js';
import { createSecretBox, generateMasterKey } from '../src/core/secrets.js';
import { monthStart, RETAINED_TABLES } from '../src/core/retention/partitions.js';
import { createRetentionPartitions, purgeExpiredPartitions } from '../src/core/retention/retention.task.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    months: { type: 'string', default: '12' },
    days: { type: 'string', default: '30' },
  },
});
const EVENTS = Number(args.events);
const MONTHS = Number(args.months);
const DAYS = Number(args.days);
// Rows per INSERT statement: one transaction each, so the WAL and memory stay bounded.
const CHUNK = 50_000;
// Body sizes, bytes: a Stripe event, the Standard Webhooks payload we sign, a short merchant answer.
const RAW_BODY_BYTES = 1500;
const PAYLOAD_BYTES = 600;
const RESPONSE_BYTES = 64;
// The first simulated month: far from today's partitions, so every month is the bench's own.
const START = new Date(Date.UTC(2040, 0, 1));

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
const pad = (s: string | number, n: number): string => String(s).padStart(n);

/** Inserts `n` events' rows with times spread over [from, to), in chunks; returns nothing. */
async function fillMonth(
  sql: Sql,
  ids: { merchantId: string; sourceId: string; endpointId: string },
  month: number,
  n: number,
  from: Date,
  to: Date,
) {
  const spanMs = to.getTime() - from.getTime();
  for (let start = 0; start < n; start += CHUNK) {
    const count = Math.min(CHUNK, n - start);
    const tag = `${month}_${start}`;
    // Ids carry the shifted time (the body tables are partitioned by id range); md5 text repeated makes bodies
    // distinct per row, so the sizes are not those of one compressible value.
    await sql`
      with g as materialized (
        select k, at, h,
               lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || lpad(to_hex(${month}::bigint * 4294967296 + ${start} + k), 20, '0') as body_id
          from (select k, ${from}::timestamptz + ((${start}::bigint + k - 1) * ${spanMs}::bigint / ${n}::bigint) * interval '1 millisecond' as at,
                       md5(${tag} || ':' || k) as h
                  from generate_series(1, ${count}::int) as k) as x
      ), iev as (
        insert into gw.inbound_events (id, source_id, merchant_id, event_id, event_type, status, received_at, processed_at)
        select 'iev_' || body_id, ${ids.sourceId}, ${ids.merchantId}, 'evt_psp_' || body_id, 'payment_intent.succeeded', 'processed', at, at
          from g
      ), iev_body as (
        insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers)
        select 'iev_' || body_id, convert_to(substr(repeat(h, ${Math.ceil(RAW_BODY_BYTES / 32)}::int), 1, ${RAW_BODY_BYTES}::int), 'UTF8'),
               jsonb_build_object('content-type', 'application/json', 'stripe-signature', 't=1,v1=' || h)
          from g
      ), evt as (
        insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, created_at)
        select 'evt_' || body_id, ${ids.merchantId}, 'payment.captured', null, 'bench:' || body_id, at
          from g
      ), evt_body as (
        insert into gw.event_payloads (event_id, payload)
        select 'evt_' || body_id, convert_to(substr(repeat(h, ${Math.ceil(PAYLOAD_BYTES / 32)}::int), 1, ${PAYLOAD_BYTES}::int), 'UTF8')
          from g
      ), msg as (
        insert into gw.messages (id, event_id, endpoint_id, merchant_id, status, attempts, last_attempt_at, created_at)
        select 'msg_' || body_id, 'evt_' || body_id, ${ids.endpointId}, ${ids.merchantId}, 'succeeded', 1, at, at
          from g
      ), att as (
        insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status, duration_ms, attempted_at)
        select 'att_' || body_id, 'msg_' || body_id, 'evt_' || body_id, ${ids.endpointId}, 1, 'succeeded', 200, 12, at
          from g
      )
      insert into gw.attempt_response_bodies (attempt_id, response_body)
      select 'att_' || body_id, substr(repeat('ok', ${Math.ceil(RESPONSE_BYTES / 2)}::int), 1, ${RESPONSE_BYTES}::int) from g`;
  }
}

/** Total size (heap, TOAST, indexes) of `gw.<table>` with all its partitions, bytes. */
async function sizeOf(sql: Sql, table: string): Promise<number> {
  const [row] = await sql<{ bytes: string }[]>`
    select coalesce(sum(pg_total_relation_size(c.oid)), 0)::text as bytes
      from pg_class c
     where c.oid = to_regclass(${`gw.${table}`})
        or c.oid in (select inhrelid from pg_inherits where inhparent = to_regclass(${`gw.${table}`}))`;
  return Number(row!.bytes);
}

async function main(): Promise<void> {
  if (!(EVENTS > 0 && MONTHS > 0 && DAYS >= 0)) throw new Error('--events and --months must be positive, --days at least 0');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-retention-'));
  await chmod(dataDir, 0o755);
  let url: string;
  let stop = async (): Promise<void> => {};
  if (process.env.DATABASE_URL) {
    const name = `sy_bench_retention_${process.pid}`;
    const admin = createSql(process.env.DATABASE_URL, { max: 1 });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    url = Object.assign(new URL(process.env.DATABASE_URL), { pathname: `/${name}` }).toString();
    stop = async () => {
      const a = createSql(process.env.DATABASE_URL!, { max: 1 });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    };
  } else {
    const db = await startEmbeddedPostgres(path.join(dataDir, 'pg'), { persistent: false });
    url = db.url;
    stop = db.stop;
  }
  const sql = createSql(url, { max: 2 });
  try {
    await migrate(sql, url);
    const config = loadConfig({
      DATABASE_URL: url,
      SWITCHYARD_RETENTION_INBOUND_BODY_DAYS: String(DAYS),
      SWITCHYARD_RETENTION_EVENT_PAYLOAD_DAYS: String(DAYS),
      SWITCHYARD_RETENTION_ATTEMPT_RESPONSE_DAYS: String(DAYS),
    });
    const deps: Deps = {
      sql,
      config,
      clock: fixedClock(START),
      logger: createLogger('silent'),
      secretBox: await createSecretBox(generateMasterKey()),
      adminToken: 'unused-by-the-retention-tasks',
    };
    const [merchant] = await sql<{ id: string }[]>`
      insert into gw.merchants (id, name) values (gw.new_id('mch'), 'Bench') returning id`;
    const [source] = await sql<{ id: string }[]>`
      insert into gw.sources (id, merchant_id, provider) values (gw.new_id('src'), ${merchant!.id}, 'stripe') returning id`;
    const [endpoint] = await sql<{ id: string }[]>`
      insert into gw.endpoints (id, merchant_id, url) values (gw.new_id('ep'), ${merchant!.id}, 'https://example.com/hooks') returning id`;
    const ids = { merchantId: merchant!.id, sourceId: source!.id, endpointId: endpoint!.id };

    const [{ v }] = (await sql`select current_setting('server_version') as v`) as unknown as [{ v: string }];
    const cpus = os.cpus();
    console.log(
      `machine: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, node ${process.version}, PostgreSQL ${v} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}), fresh database`,
    );
    console.log(
      `workload: ${EVENTS.toLocaleString('en')} events over ${MONTHS} months from ${START.toISOString().slice(0, 7)} ` +
        `(each: inbound event + ${RAW_BODY_BYTES} B raw body, event + ${PAYLOAD_BYTES} B payload, message, attempt + ${RESPONSE_BYTES} B response); retention ${DAYS} days`,
    );
    console.log('(the first purge also drops the empty partitions the migration made for the real current months)');
    console.log(
      'month    events   fill s  make ms  purge ms  partitions dropped  ms/partition  rows dropped  bodies MiB  kept-forever MiB',
    );
    const perMonth = Math.floor(EVENTS / MONTHS);
    const purges: number[] = [];
    const rowsByMonth = new Map<number, number>();
    let bodies = 0;
    for (let m = 0; m < MONTHS; m++) {
      const from = monthStart(START, m);
      const to = monthStart(START, m + 1);
      const make0 = performance.now();
      await createRetentionPartitions(deps, from);
      const makeMs = performance.now() - make0;
      const n = m === MONTHS - 1 ? EVENTS - perMonth * (MONTHS - 1) : perMonth;
      const fill0 = performance.now();
      await fillMonth(sql, ids, m, n, from, to);
      const fillS = (performance.now() - fill0) / 1000;
      rowsByMonth.set(from.getTime(), n);
      const purge0 = performance.now();
      const dropped = await purgeExpiredPartitions(deps, to);
      const purgeMs = performance.now() - purge0;
      purges.push(purgeMs);
      // Each month's rows fill exactly one partition of each table.
      const rowsDropped = dropped.reduce((s, p) => s + (rowsByMonth.get(p.from.getTime()) ?? 0), 0);
      bodies = 0;
      for (const t of RETAINED_TABLES) bodies += await sizeOf(sql, t);
      let kept = 0;
      for (const t of ['inbound_events', 'events', 'messages', 'attempts']) kept += await sizeOf(sql, t);
      console.log(
        `${from.toISOString().slice(0, 7)} ${pad(n.toLocaleString('en'), 9)} ${pad(fillS.toFixed(1), 8)} ${pad(makeMs.toFixed(1), 8)} ${pad(purgeMs.toFixed(1), 9)}` +
          ` ${pad(dropped.length, 19)} ${pad(dropped.length > 0 ? (purgeMs / dropped.length).toFixed(1) : '-', 13)} ${pad(rowsDropped.toLocaleString('en'), 13)} ${pad(mib(bodies), 11)} ${pad(mib(kept), 17)}`,
      );
    }
    const withDrops = purges.filter((_, i) => i > 0);
    console.log(
      `purge: max ${Math.max(...purges).toFixed(1)} ms, mean ${(withDrops.reduce((a, b) => a + b, 0) / Math.max(1, withDrops.length)).toFixed(1)} ms after the first month; ` +
        'a purge drops whole partitions (DDL): no per-row work, its files are truncated',
    );
    const [left] = await sql<{ months: number }[]>`
      select count(distinct date_trunc('month', gw.id_time(event_id), 'UTC'))::int as months from gw.event_payloads`;
    console.log(`event payloads left at the end: ${left!.months} month(s) of ${MONTHS}`);
    console.log(
      JSON.stringify({
        bench: 'retention',
        events: EVENTS,
        months: MONTHS,
        retentionDays: DAYS,
        purgeMsMax: Math.round(Math.max(...purges) * 10) / 10,
        bodiesMiBEnd: Number(mib(bodies)),
        monthsOfPayloadsLeft: left!.months,
      }),
    );
    if (DAYS > 0 && DAYS <= 31 && left!.months > 2) throw new Error(`${left!.months} months of payloads left; expected at most 2`);
  } finally {
    await sql.end({ timeout: 5 });
    await stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error('bench:retention failed:', error);
  process.exitCode = 1;
});
