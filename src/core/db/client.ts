import postgres from 'postgres';

/** A postgres.js connection pool. bigint and numeric come back as strings (exact money). */
export type Sql = postgres.Sql;
/** A pool or a transaction handle: store functions take either and never open their own transaction. */
export type Tx = postgres.Sql | postgres.TransactionSql;

/**
 * A postgres.js pool (`max` default 10; connect timeout default 30 s, then `CONNECT_TIMEOUT`; reconnects after
 * {@link reconnectDelaySeconds}); notices are dropped.
 * Its `begin` is {@link guardBegin}'s: a transaction whose connection dies is never rolled back on the dead socket.
 */
export function createSql(url: string, options: { max?: number; applicationName?: string; connectTimeoutSeconds?: number } = {}): Sql {
  return guardBegin(
    postgres(url, {
      max: options.max ?? 10,
      connect_timeout: options.connectTimeoutSeconds ?? 30,
      // postgres.js waits up to 20 s (growing with every failed attempt) before reconnecting a closed connection;
      // capped so a restarted server is in use again within a second.
      backoff: reconnectDelaySeconds,
      onnotice: () => {},
      connection: { application_name: options.applicationName ?? 'switchyard' },
    }),
  );
}

/** Seconds before reconnecting after `retries` failed attempts: 50 ms doubling to at most 1 s, with jitter (half to all of it). */
export function reconnectDelaySeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1);
}

// postgres.js's codes for a socket that is gone, and Node's.
const GONE_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * True when `error` says the connection it ran on is gone: postgres.js's CONNECTION_* codes, a socket error,
 * SQLSTATE class 08 (connection exception) or 57P01–57P03 (the server shutting down or not yet up).
 */
export function isConnectionGone(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = (error as { code: unknown }).code;
  if (typeof code !== 'string') return false;
  return GONE_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
}

/** How long a transaction body that failed on a gone connection waits for postgres.js to see the close, ms. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Makes `sql.begin` safe when the server goes away mid-transaction (a restart, a failover). postgres.js
 * (3.4.x) answers a body that rejects with a ROLLBACK on the same connection; when the connection has
 * just closed, that write is scheduled on a socket it has set to null and throws from a setImmediate,
 * an uncaught TypeError that kills the process (porsager/postgres#1066, #1154; fix proposed in #1168).
 * Here a body that fails because its connection is gone never settles: postgres.js rejects `begin`
 * itself with CONNECTION_CLOSED when it sees the close, and sends nothing more. Should the close not
 * come within {@link CLOSE_GRACE_MS}, the body rejects after all (the connection lives: the ROLLBACK is safe).
 * Any other error rejects at once, as before. Returns `sql`, changed in place.
 */
export function guardBegin(sql: Sql): Sql {
  const begin = sql.begin.bind(sql) as (options: string, cb: (tx: postgres.TransactionSql) => unknown) => Promise<unknown>;
  const guarded = (optionsOrCb: unknown, maybeCb?: unknown): Promise<unknown> => {
    const cb = (typeof optionsOrCb === 'function' ? optionsOrCb : maybeCb) as (tx: postgres.TransactionSql) => unknown;
    const options = typeof optionsOrCb === 'string' ? optionsOrCb : '';
    let settled = false;
    const run = begin(options, async (tx) => {
      try {
        return await cb(tx);
      } catch (error) {
        if (!isConnectionGone(error)) throw error;
        return new Promise((_, reject) => {
          setTimeout(() => {
            if (!settled) reject(error);
          }, CLOSE_GRACE_MS);
        });
      }
    });
    return run.finally(() => {
      settled = true;
    });
  };
  return Object.assign(sql, { begin: guarded as Sql['begin'] });
}
