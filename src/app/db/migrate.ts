// (node) Applies graphile-worker's migrations, then ours from sql/ in order.
import { readdirSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger as GraphileLogger, runMigrations } from 'graphile-worker';
import type { Sql } from '../../core/db/client.js';
import { splitStatements } from './sql-statements.js';

const SQL_DIR = fileURLToPath(new URL('../../../sql/', import.meta.url));
const MIGRATION_FILE = /^\d{4}_.+\.sql$/;
// Advisory lock key (arbitrary) every migrator takes, so concurrent starts apply each file once.
const MIGRATION_LOCK = 4_711_042;
/** How often a migrator retries the advisory lock another one holds, ms. */
const LOCK_POLL_MS = 100;

/** First line of a migration file that must run outside a transaction (CREATE INDEX CONCURRENTLY cannot run in one). */
export const NO_TRANSACTION_MARKER = '-- switchyard:no-transaction';
/** The lock_timeout every migration's DDL runs under: a lock it cannot take fails it rather than queueing traffic behind it. */
const LOCK_TIMEOUT = '10s';

/**
 * Applies graphile-worker's schema, then each `sql/NNNN_name.sql` not yet in `gw.migrations`, in order, under an
 * advisory lock, with `lock_timeout` {@link LOCK_TIMEOUT}. Consecutive ordinary files share one transaction; a file
 * whose first line is {@link NO_TRANSACTION_MARKER} runs after the transaction before it has committed, one
 * statement at a time and outside any transaction, and is recorded once all its statements have run (so a failed
 * one runs whole again: its statements must be safe to repeat, e.g. `drop index concurrently if exists` first).
 * Idempotent. Returns the files applied; throws the database error of a failing file, after rolling back the
 * transaction it was in (files committed before it stay applied). `options.dir` replaces sql/ and
 * `options.lockTimeout` (a PostgreSQL interval such as `'200ms'`) {@link LOCK_TIMEOUT} (tests).
 */
export async function migrate(sql: Sql, connectionString: string, options: { dir?: string; lockTimeout?: string } = {}): Promise<string[]> {
  const dir = options.dir ?? SQL_DIR;
  const lockTimeout = options.lockTimeout ?? LOCK_TIMEOUT;
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const applied: string[] = [];
  // A session lock held on one reserved connection across both migrators: graphile-worker's
  // own is not safe to run twice at once on an empty database (CREATE SCHEMA races).
  const lock = await sql.reserve();
  let inTransaction = false;
  try {
    // Polled, not waited for in one statement: a migrator blocked inside pg_advisory_lock holds a snapshot, and the
    // other's CREATE INDEX CONCURRENTLY (a no-transaction file) would wait for it forever.
    while (!(await lock<{ ok: boolean }[]>`select pg_try_advisory_lock(${MIGRATION_LOCK}) as ok`)[0]!.ok) {
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
    await runMigrations({ connectionString, logger: quietGraphileLogger });
    // Ours run on the same reserved connection (a pool of one must do).
    await lock`create schema if not exists gw`;
    await lock`create table if not exists gw.migrations (
                 name text primary key,
                 applied_at timestamptz not null default now())`;
    const done = new Set((await lock<{ name: string }[]>`select name from gw.migrations`).map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const text = await readFile(path.join(dir, file), 'utf8');
      if (text.startsWith(NO_TRANSACTION_MARKER)) {
        if (inTransaction) {
          await lock`commit`;
          inTransaction = false;
        }
        await lock.unsafe(`set lock_timeout = '${lockTimeout.replaceAll("'", '')}'`);
        try {
          for (const statement of splitStatements(text)) await lock.unsafe(statement);
        } finally {
          await lock`reset lock_timeout`.catch(() => {});
        }
        await lock`insert into gw.migrations (name) values (${file})`;
      } else {
        if (!inTransaction) {
          await lock`begin`;
          inTransaction = true;
          await lock.unsafe(`set local lock_timeout = '${lockTimeout.replaceAll("'", '')}'`);
        }
        await lock.unsafe(text);
        await lock`insert into gw.migrations (name) values (${file})`;
      }
      applied.push(file);
    }
    if (inTransaction) {
      await lock`commit`;
      inTransaction = false;
    }
  } catch (error) {
    if (inTransaction) await lock`rollback`.catch(() => {});
    throw error;
  } finally {
    await lock`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
    lock.release();
  }
  return applied;
}

/** The names of sql/ files the database has not applied yet (empty when migrated). */
export async function pendingMigrations(sql: Sql): Promise<string[]> {
  const files = (await readdir(SQL_DIR)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const [exists] = await sql<{ ok: boolean }[]>`select to_regclass('gw.migrations') is not null as ok`;
  if (!exists?.ok) return files;
  const done = new Set((await sql<{ name: string }[]>`select name from gw.migrations`).map((r) => r.name));
  return files.filter((f) => !done.has(f));
}

/** The name of the newest sql/ migration file, which /readyz expects to find applied. */
export function newestMigration(): string | undefined {
  return readdirSync(SQL_DIR)
    .filter((f) => MIGRATION_FILE.test(f))
    .sort()
    .at(-1);
}

// graphile-worker logs every migration at info; keep only its warnings and errors.
const quietGraphileLogger = new GraphileLogger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker: ${message}`);
});
