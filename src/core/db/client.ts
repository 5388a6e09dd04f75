import postgres from 'postgres';

/** A postgres.js connection pool. bigint and numeric come back as strings (exact money). */
export type Sql = postgres.Sql;
/** A pool or a transaction handle: store functions take either and never open their own transaction. */
export type Tx = postgres.Sql | postgres.TransactionSql;

/** A postgres.js pool (`max` default 10; connect timeout default 30 s, then `CONNECT_TIMEOUT`); notices are dropped. */
export function createSql(url: string, options: { max?: number; applicationName?: string; connectTimeoutSeconds?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 30,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'switchyard' },
  });
}
