// `npm run bench:recon`: how fast a settlement report is reconciled. For reports of 1k, 10k and 100k lines (BENCH_SIZES),
// each against as many captured payments of its own source: the upload (the CSV, generated as a stream, spooled as
// raw bytes) and the job (the spool streamed through csv-parse into COPY, set-based matching, settlement postings
// through gw.post_transactions, events) timed apart, and the job's time per phase; the time per line at each size
// (flat means O(n)); in the same run, two baselines of the same lines into an unindexed table: a bare COPY (the
// ceiling) and a bare multi-row INSERT (the issue's "bare bulk INSERT"); and the process's peak RSS. Prints figures
// and the machine; asserts only that every line matched and the ledger balances. Not a test.
//
// Database: DATABASE_URL (an admin URL; a scratch database is created and dropped), else an embedded PostgreSQL in a
// temporary directory.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/app/db/embedded-postgres.js';
import { migrate } from '../src/app/db/migrate.js';
import { systemClock } from '../src/core/clock.js';
import { createSql, type Sql } from '../src/core/db/client.js';
import { newId } from '../src/core/ids.js';
import { checkLedger } from '../src/core/ledger/ledger-store.js';
import { spoolReport } from '../src/reconciliation/load-report.js';
import { type PhaseTimes, reconcileRun } from '../src/reconciliation/reconcile.task.js';
import { getRun } from '../src/reconciliation/reconciliation-store.js';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);

/** Creates `n` captured USD payments of a new Stripe source (pi_<tag>_<i>, amount 1000 + i % 9000) with their capture postings. */
async function seed(sql: Sql, merchantId: string, tag: string, n: number): Promise<string> {
  const sourceId = newId('src');
  await sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchantId}, 'stripe')`;
  await sql`
    insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, currency, captured_amount, reported_amount, reported_captured)
    select gw.new_id('pay'), ${merchantId}, ${sourceId}, 'pi_' || ${tag} || '_' || g, 'captured', 1000 + g % 9000, 'USD', 1000 + g % 9000,
           1000 + g % 9000, 1000 + g % 9000
      from generate_series(0, ${n - 1}) g`;
  // batches of 1,000: gw.post_transactions matches what it inserted back to its input by a nested loop
  for (let off = 0; off < n; off += 1_000) {
    await sql`
      select gw.post_transactions(${merchantId}, (
        select jsonb_agg(jsonb_build_object('paymentId', id, 'cause', 'bench', 'kind', 'capture', 'entries', jsonb_build_array(
                 jsonb_build_object('account', 'psp_receivable', 'direction', 'debit', 'amount', amount::text, 'currency', 'USD'),
                 jsonb_build_object('account', 'merchant_payable', 'direction', 'credit', 'amount', amount::text, 'currency', 'USD'))))
          from (select id, amount from gw.payments
                 where source_id = ${sourceId}
                   and psp_reference in (select 'pi_' || ${tag} || '_' || g from generate_series(${off}::int, ${Math.min(n, off + 1000) - 1}::int) g)) p))`;
  }
  return sourceId;
}

const cents = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;

/** Line i of the report: gross 1000 + i % 9000 cents, fee 2.9% + 0.30 rounded down to cents. */
function line(i: number): { gross: number; fee: number } {
  const gross = 1000 + (i % 9000);
  return { gross, fee: Math.floor((gross * 29) / 1000) + 30 };
}

const LINES_PER_PIECE = 1_000;

/**
 * A Stripe itemized report of `n` charge lines for the seeded payments, generated as a byte stream (a thousand lines
 * per piece): the bench holds no whole report, so its RSS is the loader's.
 */
function report(tag: string, n: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = -1;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= n) return controller.close();
      const out: string[] = [];
      if (i < 0) {
        out.push(
          'balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,charge_id,payment_intent_id,automatic_payout_id',
        );
        i = 0;
      }
      for (const end = Math.min(n, i + LINES_PER_PIECE); i < end; i++) {
        const { gross, fee } = line(i);
        out.push(
          `txn_${tag}_${i},2025-06-01 12:00:00,usd,${cents(gross)},${cents(fee)},${cents(gross - fee)},charge,ch_${tag}_${i},ch_${tag}_${i},pi_${tag}_${i},po_${tag}`,
        );
      }
      controller.enqueue(encoder.encode(`${out.join('\r\n')}\r\n`));
    },
  });
}

/** A row of the bare baselines, as the loader writes it. */
function bareRow(tag: string, i: number): (string | number | null)[] {
  const { gross, fee } = line(i);
  return [
    'rcn_bench',
    i + 2,
    i + 2,
    `txn_${tag}_${i}`,
    'charge',
    'charge',
    `pi_${tag}_${i}`,
    `ch_${tag}_${i}`,
    'USD',
    gross,
    fee,
    gross - fee,
    '2025-06-01T12:00:00.000Z',
    `po_${tag}`,
    null,
    null,
    null,
  ];
}

const BARE_COLUMNS = [
  'run_id',
  'position',
  'line_no',
  'line_id',
  'category',
  'psp_type',
  'payment_ref',
  'operation_ref',
  'currency',
  'gross',
  'fee',
  'net',
  'occurred_at',
  'payout_ref',
  'result',
  'detail',
  'net_currency',
];

/**
 * The issue's baseline: a bare bulk INSERT of the same rows into the same unindexed table, one transaction of multi-row
 * INSERTs of 1,000 rows (16,000 parameters each, under the protocol's 65,535), ms.
 */
async function bareInsert(sql: Sql, tag: string, n: number): Promise<number> {
  await sql`truncate bench_bare`;
  const started = performance.now();
  await sql.begin(async (tx) => {
    for (let off = 0; off < n; off += 1_000) {
      const rows: Record<string, string | number | null>[] = [];
      for (let i = off; i < Math.min(n, off + 1_000); i++) {
        const r = bareRow(tag, i);
        rows.push(Object.fromEntries(BARE_COLUMNS.map((c, k) => [c, r[k]!])));
      }
      await tx`insert into bench_bare ${tx(rows, BARE_COLUMNS)}`;
    }
  });
  return performance.now() - started;
}

/** The bare ceiling: COPY of the same rows (as the loader writes them) into an unindexed table, ms; rows generated as streamed. */
async function bareCopy(sql: Sql, tag: string, n: number): Promise<number> {
  await sql`create table if not exists bench_bare (run_id text, position int, line_no int, line_id text, category text, psp_type text,
            payment_ref text, operation_ref text, currency text, gross bigint, fee bigint, net bigint, occurred_at timestamptz,
            payout_ref text, result text, detail text, net_currency text)`;
  await sql`truncate bench_bare`;
  const rows = function* (): Generator<string> {
    for (let i = 0; i < n; i++) {
      const { gross, fee } = line(i);
      yield `rcn_bench\t${i + 2}\t${i + 2}\ttxn_${tag}_${i}\tcharge\tcharge\tpi_${tag}_${i}\tch_${tag}_${i}\tUSD\t${gross}\t${fee}\t${gross - fee}\t2025-06-01T12:00:00.000Z\tpo_${tag}\t\\N\t\\N\t\\N\n`;
    }
  };
  const started = performance.now();
  await sql.begin(async (tx) => {
    const w = await tx`copy bench_bare from stdin`.writable();
    await pipeline(Readable.from(rows()), w);
  });
  return performance.now() - started;
}

async function main(): Promise<void> {
  let embedded: EmbeddedDatabase | undefined;
  let tmp: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-recon-'));
    await chmod(tmp, 0o755); // the embedded server runs as the postgres user when we are root
    embedded = await startEmbeddedPostgres(path.join(tmp, 'pg'), { persistent: false });
    adminUrl = embedded.adminUrl;
  }
  const name = `sy_recon_${process.pid}_${Date.now().toString(36)}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const sql = createSql(url, { max: 4 });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 25);
  try {
    await migrate(sql, url);
    const [{ v }] = (await sql`select current_setting('server_version') as v`) as unknown as [{ v: string }];
    const merchantId = newId('mch');
    await sql`insert into gw.merchants (id, name) values (${merchantId}, 'Bench')`;
    const deps = { sql, clock: systemClock };
    const cpus = os.cpus();
    console.log(
      `bench:recon  ${cpus.length} × ${cpus[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `PostgreSQL ${v} (${embedded ? 'embedded' : 'DATABASE_URL'}), Node ${process.version}; the machine is shared with other work, so figures vary between runs`,
    );
    console.log('');
    console.log(
      'lines  upload ms  job ms  total ms  µs/line  lines/s   bare COPY ms  ratio to COPY  bare INSERT ms  ratio to INSERT  peak RSS MB',
    );
    const perLine: number[] = [];
    const breakdowns: string[] = [];
    for (const n of SIZES) {
      const tag = `b${n}`;
      const sourceId = await seed(sql, merchantId, tag, n);
      await sql`vacuum analyze`;
      peakRss = process.memoryUsage().rss;
      const t0 = performance.now();
      const loaded = await spoolReport(deps, { merchantId, sourceId, provider: 'stripe', body: report(tag, n) });
      if (loaded.kind !== 'created') throw new Error('the report was loaded before');
      const t1 = performance.now();
      const phases: PhaseTimes = {};
      await reconcileRun(deps, loaded.runId, { phases });
      const t2 = performance.now();
      const jobRss = peakRss;
      // the baselines after the job: their rows, built in this process, would otherwise count in the job's peak RSS
      const bare = await bareCopy(sql, tag, n);
      const bareIns = await bareInsert(sql, tag, n);
      const run = await getRun(sql, merchantId, loaded.runId);
      if (run?.status !== 'completed' || Number(run.counts?.matched ?? 0) !== n)
        throw new Error(`not all matched: ${JSON.stringify(run?.counts)}`);
      const total = t2 - t0;
      perLine.push((total * 1000) / n);
      console.log(
        [
          String(n).padEnd(8),
          (t1 - t0).toFixed(0).padStart(7),
          (t2 - t1).toFixed(0).padStart(7),
          total.toFixed(0).padStart(9),
          ((total * 1000) / n).toFixed(1).padStart(8),
          Math.round((n * 1000) / total)
            .toString()
            .padStart(8),
          bare.toFixed(0).padStart(14),
          (bare / total).toFixed(3).padStart(14),
          bareIns.toFixed(0).padStart(15),
          (bareIns / total).toFixed(3).padStart(16),
          (jobRss / 2 ** 20).toFixed(0).padStart(12),
        ].join(' '),
      );
      breakdowns.push(
        `${String(n).padEnd(8)} upload ${(t1 - t0).toFixed(0)}  ${Object.entries(phases)
          .map(([k, ms]) => `${k} ${ms.toFixed(0)}`)
          .join('  ')}`,
      );
    }
    console.log('');
    console.log("phases, ms (load = spool parsed and COPY into items; commit = the chunks' commits, where deferred checks run; finish =");
    console.log('missingInReport + counts + completed event + its commit):');
    for (const b of breakdowns) console.log(b);
    const check = await checkLedger(sql, merchantId);
    if (!check.balanced) throw new Error('the ledger does not balance');
    const flat = Math.max(...perLine) / Math.min(...perLine);
    console.log('');
    console.log(`time per line, largest over smallest across sizes: ${flat.toFixed(2)}× (1.0 = perfectly O(n))`);
    console.log(
      'ratio to COPY / INSERT: bare COPY (or bare multi-row INSERT) time of the same lines / reconciliation time (1.0 = as fast)',
    );
    console.log(`ledger balanced: ${check.balanced}; process max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    clearInterval(sampler);
    await sql.end();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    await embedded?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
