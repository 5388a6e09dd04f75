// `npm run bench:risk`: the time of one risk evaluation (20 rules reading the duplicate and velocity counts) as the
// stored payment facts grow: 10k, 100k, 1M by default. Each count is an index range scan, so the time should stay flat
// (issue #18: within 1.5×). Each evaluation runs in a transaction that is rolled back, so the size stays put and no
// commit is timed. Prints figures, the ratio and the machine; asserts nothing. Not a test.
//
// PostgreSQL: DATABASE_URL (an admin URL; a scratch database is created and dropped), or, when unset, an embedded
// server in a temporary directory. Knobs: BENCH_RISK_SIZES (default 10000,100000,1000000),
// BENCH_RISK_RUNS (evaluations timed per size, default 300).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Decimal } from 'decimal.js';
import postgres from 'postgres';
import { migrate } from '../src/app/db/migrate.js';
import { startEmbeddedPostgres } from '../src/app/db/embedded-postgres.js';
import { createSql } from '../src/core/db/client.js';
import { newId } from '../src/core/ids.js';
import { assessPayments, RiskRuleCache } from '../src/core/risk/assess.js';

const SIZES = (process.env.BENCH_RISK_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RISK_RUNS ?? 300);

const RULES: [string, string][] = [
  ['review', 'duplicates_24h > 0'],
  ['block', 'count_same_fingerprint_1h > 10'],
  ['review', 'count_same_customer_24h > 30'],
  ['block', 'amount_same_customer_24h > 100000000'],
  ['review', 'is_first_seen_card && amount > 500000'],
  ['review', 'amount > 1000000'],
  ['review', 'currency == "EUR" && amount > 50000'],
  ['block', 'customer.email_domain == "fraud.test"'],
  ['block', 'card.country in ["KP", "IR"]'],
  ['review', 'is_round_amount && amount > 1000000'],
  ['review', 'metadata.risk == "high"'],
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

const ROLLBACK = new Error('rollback');

const withDatabase = (url: string, db: string): string => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** DATABASE_URL, or a new embedded server in a temporary directory. */
async function startServer(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { adminUrl: process.env.DATABASE_URL, stop: async () => {} };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-risk-'));
  await chmod(tmp, 0o755);
  const embedded = await startEmbeddedPostgres(path.join(tmp, 'pg'), { persistent: true });
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
  const dbName = `bench_risk_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = withDatabase(adminUrl, dbName);
  const sql = createSql(url, { max: 2, applicationName: 'bench-risk' });
  try {
    await migrate(sql, url);
    const merchantId = newId('mch');
    await sql`insert into gw.merchants (id, name) values (${merchantId}, 'Bench risk')`;
    await sql`update gw.risk_rules set enabled = false, version = version + 1 where merchant_id = ${merchantId}`;
    for (const [n, [action, expression]] of RULES.entries()) {
      await sql`insert into gw.risk_rules (id, merchant_id, name, action, expression) values (${newId('rul')}, ${merchantId}, ${`rule ${n}`}, ${action}, ${expression})`;
    }
    const cache = new RiskRuleCache();
    const results: { size: number; median: number; p95: number }[] = [];
    let stored = 0;
    for (const size of SIZES) {
      // payments spread over the last 48 h; 20 per customer and 10 per card, so a customer's history does not grow with n
      const t0 = performance.now();
      for (let from = stored; from < size; from += 100_000) {
        const to = Math.min(size, from + 100_000) - 1;
        await sql`
          insert into gw.risk_payment_facts (subject_id, merchant_id, duplicate_key, card_fingerprint, customer_id, amount, currency, seen_at)
          select 'pay_' || lpad(to_hex(g), 32, '0'), ${merchantId},
                 'customer:cus_' || (g / 20) || '|' || (1000 + g % 7) || '|USD|' || to_char(ts at time zone 'UTC', 'YYYY-MM-DD'),
                 'fp_' || (g / 10), 'cus_' || (g / 20), 1000 + g % 7, 'USD', ts
          from generate_series(${from}::bigint, ${to}::bigint) g
          cross join lateral (select now() - ((g * 7919) % 172800) * interval '1 second' as ts) t`;
      }
      stored = size;
      await sql`analyze gw.risk_payment_facts`;
      const loadSeconds = (performance.now() - t0) / 1000;
      const times: number[] = [];
      for (let i = 0; i < RUNS + 20; i++) {
        const op = `pop_${newId('req').slice(4)}`;
        const probe = (i * 37) % size;
        let ms = 0;
        await sql
          .begin(async (tx) => {
            const t = performance.now();
            await assessPayments(
              tx,
              cache,
              [
                {
                  merchantId,
                  subjectId: op,
                  paymentId: null,
                  operationId: op,
                  stage: 'api',
                  cause: op,
                  facts: {
                    amount: new Decimal(1000 + (probe % 7)),
                    currency: 'USD',
                    provider: 'stripe',
                    customerId: `cus_${Math.floor(probe / 20)}`,
                    cardFingerprint: `fp_${Math.floor(probe / 10)}`,
                    customerEmail: 'shopper@example.com',
                  },
                },
              ],
              new Date(),
            );
            ms = performance.now() - t;
            // rolled back: the stored payments stay at `size`, and no commit (a disk flush) is timed
            throw ROLLBACK;
          })
          .catch((e: unknown) => {
            if (e !== ROLLBACK) throw e;
          });
        if (i >= 20) times.push(ms);
      }
      results.push({ size, median: quantile(times, 0.5), p95: quantile(times, 0.95) });
      console.log(
        `${size.toLocaleString('en')} stored payments (loaded in ${loadSeconds.toFixed(1)} s): one evaluation median ${quantile(times, 0.5).toFixed(2)} ms, p95 ${quantile(times, 0.95).toFixed(2)} ms (${RUNS} runs)`,
      );
    }
    const medians = results.map((r) => r.median);
    const cpu = os.cpus();
    const [pg] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    console.log(
      `machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, node ${process.version}, PostgreSQL ${pg?.v}`,
    );
    console.log(
      `largest / smallest median: ${(Math.max(...medians) / Math.min(...medians)).toFixed(2)}× (20 rules; one evaluation = the rules' reads and the decision and facts rows, in a transaction rolled back)`,
    );
    console.log(JSON.stringify({ bench: 'risk', results, ratio: Math.max(...medians) / Math.min(...medians) }));
  } finally {
    await sql.end();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    await server.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
