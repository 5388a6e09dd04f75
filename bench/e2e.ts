// `npm run bench:e2e`: the whole path PSP → Switchyard → merchant as a user runs it, on
// this machine: Stripe-signed events posted open-loop at fixed rates, each to be
// delivered as payment.captured to a merchant endpoint. Prints figures and the machine;
// it is not a test. The last line is one JSON object.
//
// The gateway runs as the user starts it: `switchyard migrate`, then `switchyard all` (one
// process) or `switchyard serve` + `switchyard work` (two), child processes of the built
// CLI (`node dist/app/cli/index.js`, what `npx switchyard` and the Docker image run; the
// bench runs `npm run build` first), each configuration on a fresh database. The
// setup goes through the HTTP API (admin token, then the merchant's API key). The load
// generator (bench/e2e-load.ts) and the receiver (bench/e2e-receiver.ts) are processes of
// their own; everything shares the machine's cores with PostgreSQL.
//
// Each step offers `rate` events/s for BENCH_STEP_SECONDS, then waits for the drain (every
// acked event received) up to BENCH_DRAIN_SECONDS. Latencies count from each request's
// scheduled send time. A step is sustained when ≥ 95 % of the offered events are acked,
// none answered otherwise, none acked is missing after the drain wait, the post → receipt
// lag p99 is ≤ 1 s and the drain takes ≤ 5 s; the steps stop at the first that is not.
// Before the steps, the ack-only ceiling: `switchyard serve` alone (no worker) on a fresh
// database, closed loop at 50 connections (bench/inbound-load.ts).
//
// Settings: BENCH_CONFIGS (all,split), BENCH_STEPS (events/s, 100,200,400,700,1000,1500,
// 2000,3000), BENCH_STEP_SECONDS (15), BENCH_DRAIN_SECONDS (30), BENCH_WARMUP_SECONDS (at
// 50 events/s before the steps, 2; 0 skips), BENCH_ACK_ONLY_SECONDS (10; 0 skips),
// BENCH_FROM_SOURCE=1 (run `src/app/cli/index.ts` through tsx instead of the build; tsx's
// loader costs memory and start-up), BENCH_PROFILE=1 (`--cpu-prof` for gateway and worker,
// and a top-20 self-time summary of each profile mapped to .ts lines; implies
// BENCH_FROM_SOURCE), BENCH_PROFILE_DIR (where the profiles go; default a new directory under
// the system's temp dir, kept), BENCH_PG_STATS=1 (pg_stat_statements and graphile-worker
// figures per step), BENCH_MAX_IN_FLIGHT (the endpoint's maxInFlight, 1–64; default the API's, 8), DATABASE_URL (a server on which to create the fresh databases;
// default: an embedded PostgreSQL in a temporary directory), any SWITCHYARD_* setting
// (passed to the gateway).
import os from 'node:os';
import path from 'node:path';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createSql, type Sql } from '../src/core/db/client.js';
import { generateMasterKey } from '../src/core/secrets.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/app/db/embedded-postgres.js';
import { stripeTemplate } from './stripe-template.js';
import type { LoadRequest, LoadResult } from './inbound-load.js';
import type { StepRequest, StepResult } from './e2e-load.js';
import type { Received, ReceiverRequest } from './e2e-receiver.js';
import { summariseCpuProfile } from './e2e-profile.js';
import { machineCpuMs, parentPid, postgresCpuMs, processCpuMs, rssKiB } from './e2e-proc.js';

type ConfigName = 'all' | 'split';

/** A positive number from the environment, or `fallback`; throws naming the variable when it is not one. */
function setting(name: string, fallback: number, { zeroOk = false } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk))
    throw new Error(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} number, not ${raw}`);
  return n;
}

function listSetting(name: string, fallback: string): string[] {
  return (process.env[name] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const CONFIGS = listSetting('BENCH_CONFIGS', 'all,split').map((c) => {
  if (c !== 'all' && c !== 'split') throw new Error(`BENCH_CONFIGS takes all and/or split, not ${c}`);
  return c as ConfigName;
});
const STEPS = listSetting('BENCH_STEPS', '100,200,400,700,1000,1500,2000,3000').map((s) => {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`BENCH_STEPS takes positive rates (events/s), not ${s}`);
  return n;
});
const STEP_SECONDS = setting('BENCH_STEP_SECONDS', 15);
const DRAIN_SECONDS = setting('BENCH_DRAIN_SECONDS', 30);
const WARMUP_SECONDS = setting('BENCH_WARMUP_SECONDS', 2, { zeroOk: true });
const ACK_ONLY_SECONDS = setting('BENCH_ACK_ONLY_SECONDS', 10, { zeroOk: true });
/**
 * The Node options of the CLI's launcher line (`#!/usr/bin/env -S node …` in src/app/cli/index.ts, kept by tsc), so
 * the bench runs the gateway as the installed `switchyard` command does.
 */
const LAUNCHER_FLAGS = launcherFlags(readFileSync(fileURLToPath(new URL('../src/app/cli/index.ts', import.meta.url)), 'utf8'));

/** The options after `node` on a `#!` first line; none when there is none. */
function launcherFlags(source: string): string[] {
  const m = /^#!\S*\s+(?:-S\s+)?node\b(.*)$/m.exec(source.split('\n', 1)[0] ?? '');
  return (m?.[1] ?? '').split(' ').filter(Boolean);
}
/** Node options for the gateway and worker processes only, before the CLI's (e.g. V8 heap flags to compare). */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
/** Run every step even after one is not sustained (RSS and CPU at a rate on a machine too busy to sustain the ones before). */
const ALL_STEPS = process.env.BENCH_ALL_STEPS === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const PG_STATS = process.env.BENCH_PG_STATS === '1';
/** The endpoint's maxInFlight (1–64); unset: the API's default. */
const ENDPOINT_MAX_IN_FLIGHT = process.env.BENCH_MAX_IN_FLIGHT ? setting('BENCH_MAX_IN_FLIGHT', 8) : undefined;
const FROM_SOURCE = process.env.BENCH_FROM_SOURCE === '1' || PROFILE;
/** Node's arguments that start the CLI: the build, or the source through tsx (BENCH_FROM_SOURCE, BENCH_PROFILE). */
const CLI = FROM_SOURCE ? ['--import', 'tsx', 'src/app/cli/index.ts'] : ['dist/app/cli/index.js'];
const WARMUP_RATE = 50;
const SETTLE_MS = 1000;
const ACK_ONLY_CONNECTIONS = 50;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_TOKEN = `adm_bench_${randomBytes(16).toString('hex')}`;
/** The signing secret of the Stripe source {@link setUp} makes; the load generator signs with it. */
export const STRIPE_SECRET = `whsec_${randomBytes(24).toString('hex')}`;

const round = (x: number, digits = 0) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);
const line = (s = '') => process.stdout.write(`${s}\n`);
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const col = (v: unknown, width: number) => String(v ?? '-').padStart(width);

/** The `p`-th percentile (nearest rank) of `xs`; NaN when empty. */
export function pct(xs: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

// ---------------------------------------------------------------- processes

const children = new Set<ChildProcess>();

/** A forked bench helper (tsx, IPC with structured clone) that answers `{ id, value }` per request. */
function forkHelper(file: string): ChildProcess {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface Receiver {
  child: ChildProcess;
  url: string;
  ask<T>(request: Omit<ReceiverRequest, 'id'>): Promise<T>;
}

export async function startReceiver(): Promise<Receiver> {
  const child = forkHelper('./e2e-receiver.ts');
  const pending = new Map<number, (v: unknown) => void>();
  let seq = 0;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
    child.on('message', (m: { ready?: number; id?: number; value?: unknown }) => {
      if (m.ready) resolve(m.ready);
      else if (m.id) {
        pending.get(m.id)?.(m.value);
        pending.delete(m.id);
      }
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}/hooks`,
    ask: <T>(request: Omit<ReceiverRequest, 'id'>) =>
      new Promise<T>((resolve) => {
        const id = ++seq;
        pending.set(id, resolve as (v: unknown) => void);
        child.send({ ...request, id });
      }),
  };
}

export interface LoadGenerator {
  child: ChildProcess;
  run(request: Omit<StepRequest, 'id'>): Promise<StepResult>;
}

export function startLoadGenerator(): LoadGenerator {
  const child = forkHelper('./e2e-load.ts');
  const pending = new Map<number, { resolve: (r: StepResult) => void; reject: (e: Error) => void }>();
  let seq = 0;
  child.on('message', (m: { result?: StepResult; id?: number; error?: string }) => {
    const id = m.result?.id ?? m.id!;
    const p = pending.get(id);
    pending.delete(id);
    if (m.result) p?.resolve(m.result);
    else p?.reject(new Error(`load generator: ${m.error}`));
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`the load generator exited with ${code}`));
  });
  return {
    child,
    run: (request) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        pending.set(id, { resolve, reject });
        child.send({ ...request, id });
      }),
  };
}

export interface RoleProcess {
  role: 'all' | 'serve' | 'work';
  child: ChildProcess;
  pid: number;
  /** Base URL of its HTTP server (`serve`, `all`). */
  url?: string;
  logFile: string;
  profileDir?: string;
}

/** The environment of every `switchyard` child: the caller's SWITCHYARD_* settings, then the bench's. */
export function roleEnv(databaseUrl: string, dataDir: string, masterKey: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: process.env.NODE_ENV ?? 'production',
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_MASTER_KEY: masterKey,
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    SWITCHYARD_DATA_DIR: dataDir,
  };
}

/**
 * `npm run build` (tsc into dist/), so the CLI the bench starts is the code in src/ now; nothing with
 * BENCH_FROM_SOURCE or BENCH_PROFILE. Returns how the CLI runs, for the header; throws with tsc's output when it fails.
 */
export async function buildCli(): Promise<string> {
  if (FROM_SOURCE) return 'src/app/cli/index.ts through tsx';
  const child = spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npm run build exited with ${code}: ${out.trim()}`);
  return 'dist/app/cli/index.js, built by npm run build at the start of this run';
}

/** Runs `switchyard migrate` to its end; throws with its output when it fails. */
export async function migrate(env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, [...LAUNCHER_FLAGS, ...CLI, 'migrate'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`switchyard migrate exited with ${code}: ${out.trim()}`);
}

/** Starts `switchyard <role>` and resolves once its banner is out (stdout and stderr go to `logFile`). */
export async function startRole(
  role: RoleProcess['role'],
  env: NodeJS.ProcessEnv,
  logFile: string,
  profileDir?: string,
): Promise<RoleProcess> {
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const args = [...LAUNCHER_FLAGS, ...NODE_FLAGS, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...CLI, role];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const log = createWriteStream(logFile);
  child.stderr.pipe(log);
  let banner = '';
  const url = await new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`switchyard ${role} printed no banner within 60 s (see ${logFile})`)), 60_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`switchyard ${role} exited with ${code} before it was up: ${banner.trim()}`));
    };
    child.once('exit', onExit);
    child.stdout.on('data', (c: Buffer) => {
      log.write(c);
      banner += c.toString();
      const running = /Switchyard is running at (\S+)/.exec(banner);
      if (running || /Switchyard worker is running/.test(banner)) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(running?.[1]);
      }
    });
  });
  return { role, child, pid: child.pid!, ...(url ? { url } : {}), logFile, ...(profileDir ? { profileDir } : {}) };
}

/** SIGTERM, then waits for the exit (SIGKILL after 60 s). */
export async function stopRole(p: RoleProcess): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const started = performance.now();
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { code: p.child.exitCode, signal: p.child.signalCode, ms: 0 };
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    p.child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  const r = await exited;
  clearTimeout(timer);
  return { ...r, ms: Math.round(performance.now() - started) };
}

/** The lines a role wrote to stderr (warn and above): how many, and the first few. */
export async function logSummary(file: string): Promise<{ lines: number; head: string[] }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => l.startsWith('{'));
  return { lines: lines.length, head: lines.slice(0, 3).map((l) => l.slice(0, 300)) };
}

// ---------------------------------------------------------------- database

export interface Server {
  adminUrl: string;
  kind: 'embedded' | 'DATABASE_URL';
  version: string;
  postmasterPid?: number;
  embedded?: EmbeddedDatabase;
}

/** The postmaster of the server behind `sql`: from its data directory's postmaster.pid, else the parent of our backend. */
async function findPostmaster(sql: Sql, dataDirectory?: string): Promise<number | undefined> {
  const [{ dir, backend }] = (await sql`select current_setting('data_directory') as dir, pg_backend_pid() as backend`) as unknown as [
    { dir: string; backend: number },
  ];
  const fromFile = Number((await readFile(path.join(dataDirectory ?? dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (Number.isInteger(fromFile) && fromFile > 0 && (await parentPid(fromFile)) !== undefined) return fromFile;
  const cmdline = await readFile(`/proc/${backend}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('postgres') ? parentPid(backend) : undefined;
}

export async function startServer(tmp: string): Promise<Server> {
  let embedded: EmbeddedDatabase | undefined;
  let adminUrl = process.env.DATABASE_URL;
  const pgDir = path.join(tmp, 'pg');
  if (!adminUrl) {
    embedded = await startEmbeddedPostgres(pgDir, { persistent: true });
    if (PG_STATS) {
      // pg_stat_statements must be loaded at server start: set it, then restart on the same data.
      const admin = createSql(embedded.adminUrl, { max: 1 });
      await admin`alter system set shared_preload_libraries = 'pg_stat_statements'`;
      await admin.end();
      await embedded.stop();
      embedded = await startEmbeddedPostgres(pgDir, { persistent: true });
    }
    adminUrl = embedded.adminUrl;
  }
  const admin = createSql(adminUrl, { max: 1, applicationName: 'bench-e2e' });
  try {
    const [{ v }] = (await admin`select current_setting('server_version') as v`) as unknown as [{ v: string }];
    const postmasterPid = await findPostmaster(admin, embedded ? pgDir : undefined);
    return {
      adminUrl,
      kind: embedded ? 'embedded' : 'DATABASE_URL',
      version: v,
      ...(postmasterPid ? { postmasterPid } : {}),
      ...(embedded ? { embedded } : {}),
    };
  } finally {
    await admin.end();
  }
}

const databases = new Set<string>();

/** A new database on the server; its URL. */
export async function createDatabase(server: Server, label: string): Promise<{ name: string; url: string }> {
  const name = `sy_e2e_${label}_${process.pid}_${Date.now().toString(36)}`;
  const admin = createSql(server.adminUrl, { max: 1, applicationName: 'bench-e2e' });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  databases.add(name);
  return { name, url: Object.assign(new URL(server.adminUrl), { pathname: `/${name}` }).toString() };
}

async function dropDatabase(server: Server, name: string): Promise<void> {
  if (process.env.BENCH_KEEP_DB === '1') return;
  const admin = createSql(server.adminUrl, { max: 1, applicationName: 'bench-e2e' });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    databases.delete(name);
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------- the product's API

async function api(base: string, p: string, token: string, body: unknown): Promise<Record<string, string>> {
  const res = await fetch(base + p, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, string>;
  if (res.status !== 201) throw new Error(`POST ${p} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** One merchant, its Stripe source (signing secret STRIPE_SECRET) and, with `endpointUrl`, an endpoint for payment.captured; the source's inbound URL. */
export async function setUp(base: string, endpointUrl?: string): Promise<string> {
  const merchant = await api(base, '/admin/merchants', ADMIN_TOKEN, { name: 'Bench e2e' });
  const source = await api(base, '/v1/sources', merchant.apiKey!, { provider: 'stripe', secret: STRIPE_SECRET });
  if (endpointUrl) {
    await api(base, '/v1/endpoints', merchant.apiKey!, {
      url: endpointUrl,
      eventTypes: ['payment.captured'],
      ...(ENDPOINT_MAX_IN_FLIGHT === undefined ? {} : { maxInFlight: ENDPOINT_MAX_IN_FLIGHT }),
    });
  }
  return `${base}/inbound/${source.id}`;
}

// ---------------------------------------------------------------- PostgreSQL figures

interface PgCounters {
  xacts: number;
  jobIds: number;
  jobInserts: number;
  /** Calls of graphile_worker.add_job, add_jobs and remove_job (pg_stat_user_functions; needs track_functions = pl). */
  functionCalls: Record<string, number>;
}

async function pgCounters(sql: Sql, stats: boolean): Promise<PgCounters> {
  const [row] = (await sql`
    select (select (xact_commit + xact_rollback)::float8 from pg_stat_database where datname = current_database()) as xacts,
           coalesce(pg_sequence_last_value(pg_get_serial_sequence('graphile_worker._private_jobs', 'id')::regclass), 0)::float8 as job_ids,
           (select coalesce(n_tup_ins, 0)::float8 from pg_stat_user_tables
             where schemaname = 'graphile_worker' and relname = '_private_jobs') as job_inserts`) as unknown as [
    { xacts: number; job_ids: number; job_inserts: number },
  ];
  const functionCalls: Record<string, number> = {};
  if (stats) {
    const rows = await sql<{ name: string; calls: number }[]>`
      select funcname as name, calls::float8 as calls from pg_stat_user_functions where schemaname = 'graphile_worker'`;
    for (const r of rows) functionCalls[r.name] = r.calls;
  }
  return { xacts: row!.xacts, jobIds: row!.job_ids, jobInserts: row!.job_inserts, functionCalls };
}

interface StatementFigure {
  query: string;
  callsPerEvent: number | null;
  msPerEvent: number | null;
  meanMs: number | null;
}

interface PgStepStats {
  top: StatementFigure[];
  getJobCallsPerEvent: number | null;
  jobsCreatedPerEvent: number | null;
  jobRowsInsertedPerEvent: number | null;
  notifyPerEvent: number | null;
  addJobCallsPerEvent: number | null;
  addJobsCallsPerEvent: number | null;
  pgNotifyStatementCallsPerEvent: number | null;
  /** What the bench database's active backends were doing, sampled every 200 ms over the step and its drain: mean active backends, and each wait's share of the samples (`CPU` when not waiting). */
  meanActiveBackends: number | null;
  waits: { wait: string; pct: number }[];
  /** The statements the samples found waiting on a lock (whitespace collapsed, first 80 characters), each one's share of the lock-wait samples. */
  lockWaits: { query: string; pct: number }[];
}

/** Samples the wait events of the active backends of the database behind `sql` (other than its own) every 200 ms until `stop()`. */
function sampleWaits(sql: Sql): { stop(): Promise<Pick<PgStepStats, 'meanActiveBackends' | 'waits' | 'lockWaits'>> } {
  const counts = new Map<string, number>();
  const lockQueries = new Map<string, number>();
  let samples = 0;
  let active = 0;
  let locked = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await sql<{ wait: string; query: string | null; n: number }[]>`
        select coalesce(wait_event_type || '/' || wait_event, 'CPU') as wait,
               case when wait_event_type = 'Lock' then left(btrim(regexp_replace(query, '[[:space:]]+', ' ', 'g')), 80) end as query,
               count(*)::int as n
          from pg_stat_activity
         where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
         group by 1, 2`;
      samples += 1;
      for (const r of rows) {
        counts.set(r.wait, (counts.get(r.wait) ?? 0) + r.n);
        active += r.n;
        if (r.query !== null) {
          lockQueries.set(r.query, (lockQueries.get(r.query) ?? 0) + r.n);
          locked += r.n;
        }
      }
      await sleep(200);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const waits = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([wait, n]) => ({ wait, pct: round((100 * n) / Math.max(1, active), 1) ?? 0 }));
      const lockWaits = [...lockQueries]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([query, n]) => ({ query, pct: round((100 * n) / Math.max(1, locked), 1) ?? 0 }));
      return { meanActiveBackends: round(active / Math.max(1, samples), 2), waits, lockWaits };
    },
  };
}

/** True when pg_stat_statements is usable in the database behind `sql` (creates the extension there). */
async function enablePgStats(sql: Sql, name: string): Promise<string | undefined> {
  try {
    await sql`create extension if not exists pg_stat_statements`;
    const [ok] = await sql`select 1 from pg_extension where extname = 'pg_stat_statements'`;
    if (!ok) return 'pg_stat_statements is not installed';
    // Counts calls of PL/pgSQL functions (add_job, add_jobs: each sends a NOTIFY) for sessions opened from now on.
    await sql.unsafe(`alter database ${name} set track_functions = 'pl'`);
    return undefined;
  } catch (error) {
    return `pg_stat_statements is unavailable (${(error as Error).message}); it must be in shared_preload_libraries`;
  }
}

async function resetStatements(sql: Sql): Promise<void> {
  await sql`select pg_stat_statements_reset(0, (select oid from pg_database where datname = current_database()), 0)`;
}

async function statementStats(
  sql: Sql,
  events: number,
  before: PgCounters,
  after: PgCounters,
  waits: Pick<PgStepStats, 'meanActiveBackends' | 'waits' | 'lockWaits'>,
): Promise<PgStepStats> {
  const per = (x: number) => (events > 0 ? x / events : Number.NaN);
  const rows = await sql<{ query: string; calls: number; total: number }[]>`
    select query, calls::float8 as calls, total_exec_time::float8 as total
      from pg_stat_statements
     where dbid = (select oid from pg_database where datname = current_database())
     order by total_exec_time desc`;
  const top = rows.slice(0, 15).map((r) => ({
    query: r.query.replace(/\s+/g, ' ').trim().slice(0, 100),
    callsPerEvent: round(per(r.calls), 3),
    msPerEvent: round(per(r.total), 4),
    meanMs: round(r.total / Math.max(1, r.calls), 3),
  }));
  // graphile-worker's job fetch (dist/sql/getJob.js): `with j as (… for update skip locked) update … set attempts = …, locked_by = $1`.
  const getJob = rows.filter((r) => /skip locked/i.test(r.query) && /locked_by\s*=/i.test(r.query)).reduce((a, r) => a + r.calls, 0);
  const notifyStatements = rows.filter((r) => /pg_notify\s*\(/i.test(r.query)).reduce((a, r) => a + r.calls, 0);
  const fn = (name: string) => (after.functionCalls[name] ?? 0) - (before.functionCalls[name] ?? 0);
  const addJob = fn('add_job');
  const addJobs = fn('add_jobs');
  const removeJob = fn('remove_job');
  return {
    top,
    getJobCallsPerEvent: round(per(getJob), 3),
    jobsCreatedPerEvent: round(per(after.jobIds - before.jobIds), 3),
    jobRowsInsertedPerEvent: round(per(after.jobInserts - before.jobInserts), 3),
    notifyPerEvent: round(per(addJob + addJobs + removeJob + notifyStatements), 3),
    addJobCallsPerEvent: round(per(addJob), 3),
    addJobsCallsPerEvent: round(per(addJobs), 3),
    pgNotifyStatementCallsPerEvent: round(per(notifyStatements), 3),
    ...waits,
  };
}

// ---------------------------------------------------------------- one configuration

interface Processes {
  gateway: RoleProcess;
  worker?: RoleProcess;
  receiver: Receiver;
  load: LoadGenerator;
}

interface CpuSnapshot {
  gateway: number;
  worker: number;
  postgres: number;
  /** CPU so far of each backend connected to the bench's database, by pid. */
  backends: Map<number, number>;
  load: number;
  receiver: number;
  machine: { busy: number; total: number };
}

async function cpuSnapshot(p: Processes, monitor: Sql, postmasterPid?: number): Promise<CpuSnapshot> {
  const backends = new Map<number, number>();
  if (postmasterPid) {
    for (const { pid } of await monitor<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database()`) {
      const ms = await processCpuMs(pid);
      if (Number.isFinite(ms)) backends.set(pid, ms);
    }
  }
  return {
    gateway: await processCpuMs(p.gateway.pid),
    worker: p.worker ? await processCpuMs(p.worker.pid) : Number.NaN,
    postgres: postmasterPid ? await postgresCpuMs(postmasterPid) : Number.NaN,
    backends,
    load: await processCpuMs(p.load.child.pid!),
    receiver: await processCpuMs(p.receiver.child.pid!),
    machine: await machineCpuMs(),
  };
}

/** Peak VmRSS of the gateway and worker processes, sampled every 500 ms, KiB. */
class RssSampler {
  peak = { gateway: 0, worker: 0 };
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly p: Processes) {
    this.timer = setInterval(() => void this.sample(), 500);
  }
  async sample(): Promise<void> {
    this.peak.gateway = Math.max(this.peak.gateway, (await rssKiB(this.p.gateway.pid)) || 0);
    if (this.p.worker) this.peak.worker = Math.max(this.peak.worker, (await rssKiB(this.p.worker.pid)) || 0);
  }
  reset(): void {
    this.peak = { gateway: 0, worker: 0 };
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

interface StepFigures {
  rate: number;
  seconds: number;
  offered: number;
  acked: number;
  ackedPerSec: number | null;
  non200: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  ackP50Ms: number | null;
  ackP99Ms: number | null;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  drainMs: number | null;
  drained: boolean;
  missing: number;
  duplicates: number;
  duplicatePayments: number;
  generatorLateP99Ms: number | null;
  generatorLateMaxMs: number | null;
  /**
   * CPU ms per acked event over the step and its drain. `postgres` is the whole server
   * (other databases' work included); `postgresBenchBackends` only the backends connected
   * to the bench's database at the step's end (a lower bound: backends that exited during
   * the step are lost). `worker` is null in `all`, where `gateway` is the one process.
   */
  cpuMsPerEvent: {
    gateway: number | null;
    worker: number | null;
    postgres: number | null;
    postgresBenchBackends: number | null;
    loadGenerator: number | null;
    receiver: number | null;
    machine: number | null;
  };
  machineBusyPct: number | null;
  peakRssMiB: { gateway: number | null; worker: number | null };
  xactsPerEvent: number | null;
  sustained: boolean;
  pg?: PgStepStats;
}

interface StepContext {
  procs: Processes;
  inboundUrl: string;
  template: string;
  server: Server;
  monitor: Sql;
  pgStats: boolean;
  rss: RssSampler;
}

async function runStep(ctx: StepContext, rate: number, seconds: number, tag: string): Promise<StepFigures> {
  const { procs } = ctx;
  if (ctx.pgStats) await resetStatements(ctx.monitor);
  const pg0 = await pgCounters(ctx.monitor, ctx.pgStats);
  const cpu0 = await cpuSnapshot(procs, ctx.monitor, ctx.server.postmasterPid);
  ctx.rss.reset();
  await ctx.rss.sample();
  const waitSampler = ctx.pgStats ? sampleWaits(ctx.monitor) : undefined;

  const r = await procs.load.run({ url: ctx.inboundUrl, rate, seconds, tag, secret: STRIPE_SECRET, template: ctx.template });
  const n = r.status.length;
  const interval = 1000 / rate;
  const ackedIndices: number[] = [];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const s = r.status[i]!;
    statuses[s === 0 ? 'error' : String(s)] = (statuses[s === 0 ? 'error' : String(s)] ?? 0) + 1;
    if (s === 200) ackedIndices.push(i);
  }
  await procs.receiver.ask({ expect: { tag, indices: ackedIndices } });
  const loadDone = now();
  let missing = await procs.receiver.ask<number>({ missing: tag });
  while (missing > 0 && now() < loadDone + DRAIN_SECONDS * 1000) {
    await sleep(100);
    missing = await procs.receiver.ask<number>({ missing: tag });
  }
  // The worker records an attempt after the receiver has answered, and PostgreSQL
  // publishes a backend's counters up to a second late: let both settle.
  const waits = await waitSampler?.stop();
  await sleep(SETTLE_MS);
  const cpu1 = await cpuSnapshot(procs, ctx.monitor, ctx.server.postmasterPid);
  await ctx.rss.sample();
  const pg1 = await pgCounters(ctx.monitor, ctx.pgStats);
  const got = await procs.receiver.ask<Received>({ take: tag });

  const receivedAt = new Map<number, number>();
  for (let k = 0; k < got.indices.length; k++) receivedAt.set(got.indices[k]!, got.times[k]!);
  const scheduled = (i: number) => r.t0 + i * interval;
  const lags: number[] = [];
  let lastReceipt = Number.NEGATIVE_INFINITY;
  let lagMax = Number.NaN;
  for (const i of ackedIndices) {
    const at = receivedAt.get(i);
    if (at === undefined) continue;
    lags.push(at - scheduled(i));
    lastReceipt = Math.max(lastReceipt, at);
    lagMax = Number.isNaN(lagMax) ? at - scheduled(i) : Math.max(lagMax, at - scheduled(i));
  }
  const acks: number[] = [];
  const late: number[] = [];
  let lastAck = r.t0;
  let lateMax = Number.NaN;
  for (let i = 0; i < n; i++) {
    acks.push(r.ackAt[i]! - scheduled(i));
    late.push(r.sentAt[i]! - scheduled(i));
    lastAck = Math.max(lastAck, r.ackAt[i]!);
    lateMax = Number.isNaN(lateMax) ? late[i]! : Math.max(lateMax, late[i]!);
  }
  const acked = ackedIndices.length;
  const drained = missing === 0;
  const drainMs = drained ? (acked === 0 ? 0 : Math.max(0, lastReceipt - scheduled(n - 1))) : null;
  const lagP99 = pct(lags, 99);
  const perEvent = (ms: number) => round(acked > 0 ? ms / acked : Number.NaN, 3);
  const sameProcess = !procs.worker;
  const figures: StepFigures = {
    rate,
    seconds,
    offered: n,
    acked,
    ackedPerSec: round(acked / Math.max(seconds, (lastAck - r.t0) / 1000), 1),
    non200: n - acked,
    statuses,
    errors: r.errors,
    ackP50Ms: round(pct(acks, 50), 1),
    ackP99Ms: round(pct(acks, 99), 1),
    lagP50Ms: round(pct(lags, 50), 1),
    lagP99Ms: round(lagP99, 1),
    lagMaxMs: round(lagMax, 1),
    drainMs: drainMs === null ? null : round(drainMs),
    drained,
    missing,
    duplicates: got.duplicateMessages,
    duplicatePayments: got.duplicatePayments,
    generatorLateP99Ms: round(pct(late, 99), 2),
    generatorLateMaxMs: round(lateMax, 2),
    cpuMsPerEvent: {
      gateway: perEvent(cpu1.gateway - cpu0.gateway),
      worker: sameProcess ? null : perEvent(cpu1.worker - cpu0.worker),
      postgres: perEvent(cpu1.postgres - cpu0.postgres),
      postgresBenchBackends: ctx.server.postmasterPid
        ? perEvent([...cpu1.backends].reduce((a, [pid, ms]) => a + ms - (cpu0.backends.get(pid) ?? 0), 0))
        : null,
      loadGenerator: perEvent(cpu1.load - cpu0.load),
      receiver: perEvent(cpu1.receiver - cpu0.receiver),
      machine: perEvent(cpu1.machine.busy - cpu0.machine.busy),
    },
    machineBusyPct: round((100 * (cpu1.machine.busy - cpu0.machine.busy)) / Math.max(1, cpu1.machine.total - cpu0.machine.total), 1),
    peakRssMiB: {
      gateway: round(ctx.rss.peak.gateway / 1024, 1),
      worker: sameProcess ? null : round(ctx.rss.peak.worker / 1024, 1),
    },
    xactsPerEvent: round(acked > 0 ? (pg1.xacts - pg0.xacts) / acked : Number.NaN, 2),
    sustained: acked >= 0.95 * n && n - acked === 0 && missing === 0 && lagP99 <= 1000 && drainMs !== null && drainMs <= 5000,
  };
  if (ctx.pgStats && waits) figures.pg = await statementStats(ctx.monitor, acked, pg0, pg1, waits);
  return figures;
}

function printStepHeader(): void {
  line(
    '  rate/s  acked/s  non-200  ack p50  ack p99   lag p50   lag p99   lag max  drain ms  missing  dup  sustained' +
      '  │ CPU ms/event: gateway  worker  postgres (bench db)  load gen  receiver  machine (busy %)  │ peak RSS MiB gw/worker  xact/event',
  );
}

function printStep(s: StepFigures): void {
  const c = s.cpuMsPerEvent;
  line(
    `${col(s.rate, 8)}  ${col(s.ackedPerSec, 7)}  ${col(s.non200, 7)}  ${col(s.ackP50Ms, 7)}  ${col(s.ackP99Ms, 7)}  ${col(s.lagP50Ms, 8)}  ${col(s.lagP99Ms, 8)}  ${col(s.lagMaxMs, 8)}  ${col(s.drained ? s.drainMs : `>${DRAIN_SECONDS * 1000}`, 8)}  ${col(s.missing, 7)}  ${col(s.duplicates, 3)}  ${col(s.sustained ? 'yes' : 'no', 9)}` +
      `  │ ${col(c.gateway, 20)}  ${col(c.worker ?? '(same)', 6)}  ${col(c.postgres, 8)} (${col(c.postgresBenchBackends, 8)})  ${col(c.loadGenerator, 8)}  ${col(c.receiver, 8)}  ${col(c.machine, 7)} (${s.machineBusyPct})` +
      `  │ ${col(`${s.peakRssMiB.gateway}/${s.peakRssMiB.worker ?? '-'}`, 22)}  ${col(s.xactsPerEvent, 10)}`,
  );
  const notes: string[] = [];
  if (s.non200 > 0)
    notes.push(`answers ${JSON.stringify(s.statuses)}${Object.keys(s.errors).length ? `, errors ${JSON.stringify(s.errors)}` : ''}`);
  if (s.duplicatePayments > s.duplicates) notes.push(`${s.duplicatePayments} payments delivered twice`);
  if ((s.generatorLateP99Ms ?? 0) > 5)
    notes.push(`load generator sent late: p99 ${s.generatorLateP99Ms} ms, max ${s.generatorLateMaxMs} ms`);
  if (notes.length) line(`          ${notes.join('; ')}`);
  if (s.pg) {
    const p = s.pg;
    line(
      `          PostgreSQL per event: get_job ${p.getJobCallsPerEvent}, jobs created ${p.jobsCreatedPerEvent} (job ids drawn; rows inserted ${p.jobRowsInsertedPerEvent}), ` +
        `NOTIFY ≤ ${p.notifyPerEvent} (add_job ${p.addJobCallsPerEvent} + add_jobs ${p.addJobsCallsPerEvent} + remove_job + pg_notify statements ${p.pgNotifyStatementCallsPerEvent})`,
    );
    line(
      `          active backends of the bench database: ${p.meanActiveBackends} on average; waiting on: ${p.waits.map((w) => `${w.wait} ${w.pct} %`).join(', ') || 'nothing sampled'}`,
    );
    if (p.lockWaits.length > 0)
      line(`          waiting on a lock (share of lock-wait samples): ${p.lockWaits.map((w) => `${w.pct} % ${w.query}`).join(' | ')}`);
    line('          top statements by total time:  calls/event  ms/event  mean ms  query');
    for (const t of p.top) line(`          ${col(t.callsPerEvent, 31)}  ${col(t.msPerEvent, 8)}  ${col(t.meanMs, 7)}  ${t.query}`);
  }
}

interface ConfigResult {
  sustainedEventsPerSec: number;
  steps: StepFigures[];
  stopped: Record<string, { code: number | null; signal: string | null; ms: number }>;
  profiles?: string[];
}

async function runConfig(name: ConfigName, server: Server, tmp: string, template: string, profileRoot?: string): Promise<ConfigResult> {
  const db = await createDatabase(server, name);
  const env = roleEnv(db.url, path.join(tmp, `data-${name}`), generateMasterKey());
  const roles: RoleProcess[] = [];
  let procs: Processes | undefined;
  let rss: RssSampler | undefined;
  const monitor = createSql(db.url, { max: 2, applicationName: 'bench-e2e-monitor' });
  const stopped: ConfigResult['stopped'] = {};
  let result: ConfigResult | undefined;
  try {
    await migrate(env);
    let pgStats = false;
    if (PG_STATS) {
      const problem = await enablePgStats(monitor, db.name);
      if (problem) line(`BENCH_PG_STATS: ${problem}; going on without it`);
      pgStats = !problem;
      if (pgStats) {
        const [{ track }] = (await monitor`select current_setting('pg_stat_statements.track') as track`) as unknown as [{ track: string }];
        line(
          `BENCH_PG_STATS: pg_stat_statements (track = ${track}${track === 'top' ? ': statements inside functions count in their caller; deferred triggers run at commit show on their own' : ''}), reset for this database at each step. ` +
            'NOTIFY counted as calls of graphile_worker.add_job (it notifies only when it inserts: an upper bound), add_jobs (always notifies) and remove_job ' +
            '(pg_stat_user_functions, track_functions = pl on the bench database), plus top-level statements calling pg_notify',
        );
      }
    }
    const receiver = await startReceiver();
    const load = startLoadGenerator();
    const prof = (role: string) => (profileRoot ? path.join(profileRoot, `${name}-${role}`) : undefined);
    const gateway = await startRole(
      name === 'all' ? 'all' : 'serve',
      env,
      path.join(tmp, `${name}-gateway.log`),
      prof(name === 'all' ? 'all' : 'serve'),
    );
    roles.push(gateway);
    const worker = name === 'split' ? await startRole('work', env, path.join(tmp, `${name}-worker.log`), prof('work')) : undefined;
    if (worker) roles.push(worker);
    procs = { gateway, ...(worker ? { worker } : {}), receiver, load };
    const inboundUrl = await setUp(gateway.url!, receiver.url);
    rss = new RssSampler(procs);
    const ctx: StepContext = { procs, inboundUrl, template, server, monitor, pgStats, rss };

    line();
    line(
      name === 'all'
        ? `config all: \`switchyard all\` (pid ${gateway.pid}), database ${db.name}`
        : `config split: \`switchyard serve\` (pid ${gateway.pid}) + \`switchyard work\` (pid ${worker!.pid}), database ${db.name}`,
    );
    line(
      `receiver pid ${receiver.child.pid}, load generator pid ${load.child.pid}${server.postmasterPid ? `, postmaster pid ${server.postmasterPid}` : ''}`,
    );
    if (WARMUP_SECONDS > 0) {
      const w = await runStep({ ...ctx, pgStats: false }, WARMUP_RATE, WARMUP_SECONDS, `w${name}`);
      line(
        `warm-up: ${w.offered} events at ${WARMUP_RATE}/s, ${w.acked} acked, ${w.missing} missing, lag p50 ${w.lagP50Ms} ms, drained ${w.drained ? `${w.drainMs} ms after the last send` : 'no'}`,
      );
    }
    printStepHeader();
    const steps: StepFigures[] = [];
    for (const rate of STEPS) {
      const s = await runStep(ctx, rate, STEP_SECONDS, `${name}${rate}`);
      steps.push(s);
      printStep(s);
      if (!s.sustained && !ALL_STEPS) break;
    }
    const sustained = steps.filter((s) => s.sustained).reduce((a, s) => Math.max(a, s.rate), 0);
    line(`config ${name}: sustained ${sustained} events/s`);
    result = { sustainedEventsPerSec: sustained, steps, stopped };
  } finally {
    rss?.stop();
    for (const r of [...roles].reverse()) {
      stopped[r.role] = await stopRole(r);
      const log = await logSummary(r.logFile);
      line(
        `switchyard ${r.role} stopped on SIGTERM: ${stopped[r.role]!.signal ? `killed by ${stopped[r.role]!.signal}` : `exit ${stopped[r.role]!.code}`} after ${stopped[r.role]!.ms} ms; ${log.lines} log lines at warn or above`,
      );
      for (const l of log.head) line(`  ${l}`);
    }
    procs?.receiver.child.disconnect();
    procs?.load.child.disconnect();
    await monitor.end({ timeout: 5 });
    await dropDatabase(server, db.name).catch((e: unknown) => line(`could not drop ${db.name}: ${(e as Error).message}`));
  }
  return result!;
}

/** Summaries of the profiles under `dir` (one directory per process): the top 20 by self time, also written beside each profile. */
async function summariseProfiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const sub of (await readdir(dir).catch(() => [])).sort()) {
    const subDir = path.join(dir, sub);
    const profiles = (await readdir(subDir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
    let main: { file: string; size: number } | undefined;
    for (const f of profiles) {
      const file = path.join(subDir, f);
      files.push(file);
      const { size } = await stat(file);
      if (!main || size > main.size) main = { file, size };
    }
    for (const file of files.filter((f) => f.startsWith(`${subDir}${path.sep}`))) {
      const { totalMs, busyMs, rows } = await summariseCpuProfile(file, ROOT);
      const text = [
        `${file}: ${totalMs} ms sampled, ${busyMs} ms not idle (start-up included); top 20 by self time, % of the time not idle`,
        '   self ms      %  function',
        ...rows.map((r) => `${col(r.selfMs, 10)}  ${col(r.pct, 5)}  ${r.fn}`),
      ].join('\n');
      await writeFile(`${file}.top20.txt`, `${text}\n`);
      line();
      if (file === main?.file) line(text);
      else line(`${file}: ${totalMs} ms sampled (another thread of the process; summary in ${file}.top20.txt)`);
    }
  }
  return files;
}

/** The ack-only ceiling: `switchyard serve` alone on a fresh database, closed loop at 50 connections (bench/inbound-load.ts). */
async function ackOnly(
  server: Server,
  tmp: string,
  template: string,
): Promise<{ acksPerSec: number; p50Ms: number; p99Ms: number; non200: number }> {
  const db = await createDatabase(server, 'ackonly');
  const env = roleEnv(db.url, path.join(tmp, 'data-ackonly'), generateMasterKey());
  let serve: RoleProcess | undefined;
  try {
    await migrate(env);
    serve = await startRole('serve', env, path.join(tmp, 'ackonly-serve.log'));
    const inboundUrl = await setUp(serve.url!);
    await closedLoad(inboundUrl, 10, 2, 'ackwarm', template, tmp);
    const r = await closedLoad(inboundUrl, ACK_ONLY_CONNECTIONS, ACK_ONLY_SECONDS, 'ackonly', template, tmp);
    const non200 = Object.entries(r.statusCodes).reduce((a, [k, v]) => a + (k === '200' ? 0 : v), 0) + r.errors + r.timeouts;
    return { acksPerSec: r.ok / r.durationSeconds, p50Ms: r.p50Ms, p99Ms: r.p99Ms, non200 };
  } finally {
    if (serve) await stopRole(serve);
    await dropDatabase(server, db.name).catch(() => {});
  }
}

async function closedLoad(
  url: string,
  connections: number,
  durationSeconds: number,
  tag: string,
  template: string,
  tmp: string,
): Promise<LoadResult> {
  const child = forkHelper('./inbound-load.ts');
  try {
    const request: LoadRequest = {
      url,
      connections,
      durationSeconds,
      secret: STRIPE_SECRET,
      template,
      tag,
      ackedFile: path.join(tmp, `${tag}.acked`),
    };
    const answer = await new Promise<{ result?: LoadResult; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { result?: LoadResult; error?: string }));
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
      child.send(request);
    });
    if (!answer.result) throw new Error(`load generator failed: ${answer.error}`);
    return answer.result;
  } finally {
    child.kill();
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-e2e-'));
  await chmod(tmp, 0o755);
  let server: Server | undefined;
  const onSignal = () => {
    for (const c of children) c.kill('SIGKILL');
    void cleanUp(server, tmp).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const cli = await buildCli();
    server = await startServer(tmp);
    const template = stripeTemplate();
    const cpus = os.cpus();
    line(
      `machine: ${cpus[0]?.model ?? '?'} × ${cpus.length} cores, ${round(os.totalmem() / 2 ** 30, 1)} GiB, load average ${os
        .loadavg()
        .map((x) => round(x, 1))
        .join(' ')}`,
    );
    line(
      `node ${process.version}, PostgreSQL ${server.version} (${server.kind === 'embedded' ? 'embedded, in a temporary directory' : "DATABASE_URL's server"}), a fresh database per configuration` +
        (server.postmasterPid ? '' : '; its postmaster is not on this machine (no PostgreSQL CPU figures)'),
    );
    line(`gateway: ${cli}, node options ${[...LAUNCHER_FLAGS, ...NODE_FLAGS].join(' ') || 'none'}`);
    line(
      `events: Stripe payment_intent.succeeded, ${Buffer.byteLength(template.replace('__EVT__', 'evt_all1000_0000').replace('__PI__', 'pi_all1000_0000'))} bytes, ` +
        `each a new payment delivered as payment.captured to one endpoint (maxInFlight ${ENDPOINT_MAX_IN_FLIGHT ?? '8, the default'}); open-loop load from a child process (undici, ≤ 256 connections)`,
    );
    line(
      `steps ${STEPS.join(', ')} events/s × ${STEP_SECONDS} s; drain wait ≤ ${DRAIN_SECONDS} s; sustained: acked ≥ 95 %, 0 non-200, 0 missing, lag p99 ≤ 1000 ms, drained ≤ 5000 ms`,
    );
    line(
      'latencies from each request’s scheduled send time; lag = merchant receipt − scheduled send; drain = last receipt − last scheduled send; CPU over the step and its drain, per acked event;',
    );
    line(
      '  postgres = the whole server (postmaster, backends, exited backends); bench db = the backends connected to the bench’s database at the step’s end; machine = all cores (busy %)',
    );
    const profileRoot = PROFILE
      ? (process.env.BENCH_PROFILE_DIR ?? (await mkdtemp(path.join(os.tmpdir(), 'switchyard-e2e-profiles-'))))
      : undefined;
    if (profileRoot) {
      await mkdir(profileRoot, { recursive: true });
      line(`BENCH_PROFILE: gateway and worker run with --cpu-prof; profiles in ${profileRoot}`);
    }

    let ackOnlyPerSec: number | null = null;
    if (ACK_ONLY_SECONDS > 0) {
      const a = await ackOnly(server, tmp, template);
      ackOnlyPerSec = round(a.acksPerSec);
      line();
      line(
        `ack-only ceiling: \`switchyard serve\` alone, closed loop at ${ACK_ONLY_CONNECTIONS} connections for ${ACK_ONLY_SECONDS} s: ${ackOnlyPerSec} acks/s, p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms, ${a.non200} not 200`,
      );
    }

    const configs: Partial<Record<ConfigName, ConfigResult>> = {};
    for (const name of CONFIGS) {
      configs[name] = await runConfig(name, server, tmp, template, profileRoot);
    }
    if (profileRoot) {
      const files = await summariseProfiles(profileRoot);
      line();
      line(`profiles: ${files.length ? files.join(', ') : 'none written (did a process exit on SIGTERM?)'}`);
      for (const name of CONFIGS) {
        const prefix = path.join(profileRoot, `${name}-`);
        configs[name]!.profiles = files.filter((f) => f.startsWith(prefix));
      }
    }

    const headline = configs.all?.sustainedEventsPerSec ?? null;
    line();
    line(
      `sustained end to end: ${CONFIGS.map((c) => `${c} ${configs[c]!.sustainedEventsPerSec} events/s`).join(', ')}` +
        (headline !== null && ackOnlyPerSec ? `; all / ack-only = ${round(headline / ackOnlyPerSec, 3)}` : ''),
    );
    line(
      JSON.stringify({
        bench: 'e2e',
        machine: {
          cpu: cpus[0]?.model ?? null,
          cores: cpus.length,
          node: process.version,
          postgres: server.version,
          database: server.kind,
        },
        settings: {
          steps: STEPS,
          stepSeconds: STEP_SECONDS,
          drainSeconds: DRAIN_SECONDS,
          profile: PROFILE,
          pgStats: PG_STATS,
          endpointMaxInFlight: ENDPOINT_MAX_IN_FLIGHT ?? null,
        },
        ackOnlyPerSec,
        configs,
        sustainedEventsPerSec: headline,
        ratioToAckOnly: headline !== null && ackOnlyPerSec ? round(headline / ackOnlyPerSec, 3) : null,
      }),
    );
  } finally {
    await cleanUp(server, tmp);
  }
}

let cleaning: Promise<void> | undefined;

/** Kills what is left of the children, drops the bench's databases, stops the embedded server, removes `tmp`; once. */
export function cleanUp(server: Server | undefined, tmp: string): Promise<void> {
  cleaning ??= (async () => {
    for (const c of children) c.kill('SIGKILL');
    if (server) for (const name of [...databases]) await dropDatabase(server, name).catch(() => {});
    await server?.embedded?.stop().catch(() => {});
    await rm(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}

// Only when run as the bench: bench/soak.ts imports the helpers above.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench:e2e failed: ${String((error as Error)?.stack ?? error)}\n`);
      process.exit(1);
    },
  );
}
