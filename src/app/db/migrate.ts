// (node) Applies graphile-worker's migrations, then ours from sql/ in order.
import { readdirSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Logger as GraphileLogger, runMigrations } from 'graphile-worker';
import type { Sql } from '../../core/db/client.js';

const SQL_DIR = fileURLToPath(new URL('../../../sql/', import.meta.url));
const MIGRATION_FILE = /^\d{4}_.+\.sql$/;
// Advisory lock key (arbitrary) every migrator takes, so concurrent starts apply each file once.
const MIGRATION_LOCK = 4_711_042;

/**
 * Applies graphile-worker's schema, then each `sql/NNNN_name.sql` not yet in `gw.migrations`
 * in one transaction, under an advisory lock. Idempotent. Returns the files applied; throws
 * the database error of a failing file (everything is rolled back).
 */
export async function migrate(sql: Sql, connectionString: string): Promise<string[]> {
  const files = (await readdir(SQL_DIR)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const applied: string[] = [];
  // A session lock held on one reserved connection across both migrators: graphile-worker's
  // own is not safe to run twice at once on an empty database (CREATE SCHEMA races).
  const lock = await sql.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await runMigrations({ connectionString, logger: quietGraphileLogger });
    // Ours run on the same reserved connection, in one transaction (a pool of one must do).
    await lock`begin`;
    try {
      await lock`set local lock_timeout = '10s'`;
      await lock`create schema if not exists gw`;
      await lock`create table if not exists gw.migrations (
                   name text primary key,
                   applied_at timestamptz not null default now())`;
      const done = new Set((await lock<{ name: string }[]>`select name from gw.migrations`).map((r) => r.name));
      for (const file of files) {
        if (done.has(file)) continue;
        await lock.unsafe(await readFile(SQL_DIR + file, 'utf8'));
        await lock`insert into gw.migrations (name) values (${file})`;
        applied.push(file);
      }
      await lock`commit`;
    } catch (error) {
      await lock`rollback`.catch(() => {});
      applied.length = 0;
      throw error;
    }
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
