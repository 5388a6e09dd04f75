// (node) The database connection of the CLI's one-shot commands.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../core/config.js';
import { createSql, type Sql } from '../../core/db/client.js';
import { prepare } from '../gateway.js';
import { createLogger } from '../node/logger.js';

/** The last sentence of the usage of every command that opens the database. */
export const DB_NOTE = 'Reads DATABASE_URL (unset: the embedded PostgreSQL of `npm start`, started if it is not running).';

/**
 * The URL of the embedded PostgreSQL a running `npm start` keeps on `dataDir`, if one is
 * running (postmaster.pid names its port; the password is kept beside the data
 * directory). Starting a second one on the same directory would stop the first.
 */
function runningEmbeddedUrl(dataDir: string): string | undefined {
  const pg = path.join(path.resolve(dataDir), 'pg');
  try {
    const lines = readFileSync(path.join(pg, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
    process.kill(pid, 0); // throws when it is not running
    const password = readFileSync(`${pg}.password`, 'utf8').trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/switchyard`;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` on a database connection: DATABASE_URL, else the embedded PostgreSQL of a
 * running `npm start`, else a started (and migrated) embedded one, stopped afterwards.
 * Resolves to what `work` resolves to; the pool is closed either way.
 */
export async function withDatabase<T>(cfg: Config, work: (sql: Sql) => Promise<T>): Promise<T> {
  const url = cfg.DATABASE_URL ?? runningEmbeddedUrl(cfg.SWITCHYARD_DATA_DIR);
  if (url) {
    const sql = createSql(url, { max: 2, applicationName: 'switchyard-cli' });
    try {
      return await work(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  const { sql, embedded, deps } = await prepare(cfg, createLogger(cfg.LOG_LEVEL));
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
    await deps.dispatcher?.close();
    await embedded?.stop();
  }
}
