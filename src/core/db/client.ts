import postgres from 'postgres';

/** A postgres.js connection pool. bigint and numeric come back as strings (exact money). */
export type Sql = postgres.Sql;
/** A pool or a transaction handle: store functions take either and never open their own transaction. */
export type Tx = postgres.Sql | postgres.TransactionSql;

/**
 * Opens a postgres.js pool. `max` is the pool size (connections). Notices are dropped
 * (our migrations' "already exists" chatter); errors still throw.
 *
 * @example
 * const sql = createSql(config.DATABASE_URL, { max: 10 });
 * await sql`select 1`;
 */
export function createSql(url: string, options: { max?: number; applicationName?: string } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'switchyard' },
  });
}
