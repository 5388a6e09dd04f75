import postgres from 'postgres';

/** A postgres.js connection pool. bigint and numeric come back as strings (exact money). */
export type Sql = postgres.Sql;
/** A pool or a transaction handle: store functions take either and never open their own transaction. */
export type Tx = postgres.Sql | postgres.TransactionSql;

/**
 * Opens a postgres.js pool. `max` is the pool size (connections); `connectTimeoutSeconds`
 * bounds each connection's TCP connect and start-up handshake (postgres.js
 * `connect_timeout`, default 30 s): past it the query waiting for that connection rejects
 * with code `CONNECT_TIMEOUT`. A server that closes the connection instead (a port that is
 * not PostgreSQL) is reconnected to without end; prepare() in src/runtime.ts bounds that.
 * Notices are dropped (our migrations' "already exists" chatter); errors still throw.
 *
 * @example
 * const sql = createSql(config.DATABASE_URL, { max: 10 });
 * await sql`select 1`;
 */
export function createSql(url: string, options: { max?: number; applicationName?: string; connectTimeoutSeconds?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 30,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'switchyard' },
  });
}
