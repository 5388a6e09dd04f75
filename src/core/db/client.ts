import postgres from 'postgres';

/** A postgres.js connection pool. bigint and numeric come back as strings (exact money). */
export type Sql = postgres.Sql;
/** A pool or a transaction handle: store functions take either and never open their own transaction. */
export type Tx = postgres.Sql | postgres.TransactionSql;

/**
 * Opens a postgres.js pool of `max` connections (default 10). `connectTimeoutSeconds` bounds
 * each connect and handshake (default 30 s; past it the query rejects with `CONNECT_TIMEOUT`).
 * Notices (the migrations' "already exists") are dropped.
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
