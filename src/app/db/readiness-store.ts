// Whether the database answers, and which migration it has applied last.
import type { Tx } from '../../core/db/client.js';

/** Resolves once the database answers a `select 1`; rejects with postgres.js's error (code `CONNECT_TIMEOUT` among others). */
export async function ping(tx: Tx): Promise<void> {
  await tx`select 1`;
}

/** The name of the newest sql/ file recorded in gw.migrations, or undefined when none is. Throws when the table is missing. */
export async function newestAppliedMigration(tx: Tx): Promise<string | undefined> {
  const [row] = await tx<{ name: string }[]>`
    select name
      from gw.migrations
     order by name desc
     limit 1`;
  return row?.name;
}
