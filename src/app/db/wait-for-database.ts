// (node) A bound on the first connection: postgres.js alone would reconnect without end to
// a server that hangs up on it (a port that is not PostgreSQL).
import type { Sql } from '../../core/db/client.js';
import { ping } from './readiness-store.js';

/**
 * Waits at most `seconds` for a first `select 1`; on timeout throws an Error naming the
 * database's host:port (never its password). Other connection errors are rethrown as is.
 */
export async function waitForDatabase(sql: Sql, databaseUrl: string, seconds: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), seconds * 1000);
  });
  const answered = ping(sql).then(
    () => 'ok' as const,
    (error: unknown) => {
      // postgres.js's own connect_timeout (the same number of seconds) may fire first.
      if ((error as { code?: unknown } | null)?.code === 'CONNECT_TIMEOUT') return 'timeout' as const;
      throw error;
    },
  );
  let outcome: 'ok' | 'timeout';
  try {
    outcome = await Promise.race([answered, timedOut]);
  } finally {
    clearTimeout(timer);
  }
  if (outcome === 'timeout') {
    answered.catch(() => {}); // it rejects once the caller ends the pool
    throw new Error(
      `the database at ${databaseAddress(databaseUrl)} did not answer within ${seconds} s ` +
        '(SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS): check DATABASE_URL points at a PostgreSQL server that is up and reachable',
    );
  }
}

/** `host:port` of a postgres:// URL (5432 when it names none), without user or password; several hosts comma-joined. */
function databaseAddress(databaseUrl: string): string {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(databaseUrl)?.[1] ?? '';
  const hosts = authority === '' ? ['localhost'] : authority.split(',');
  return hosts.map((h) => (/:\d+$/.test(h) ? h : `${h}:5432`)).join(',');
}
