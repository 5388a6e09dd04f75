import type { Tx } from '../db/client.js';
import { ID_PREFIX, type MonthPartition, type RetainedTable } from './partitions.js';

// Partition DDL takes a brief ACCESS EXCLUSIVE lock on the parent: never queue behind a long
// query (and hold up the hot path queued behind us) longer than this; the next run retries.
const DDL_LOCK_TIMEOUT = '2s';

// The partition key of each body table: the id of the row the body belongs to.
const KEY_COLUMN: Record<RetainedTable, string> = {
  inbound_event_bodies: 'inbound_event_id',
  event_payloads: 'event_id',
  attempt_response_bodies: 'attempt_id',
};

/** The names of the partitions of `gw.<table>` (month partitions and the default), in no order. */
export async function listPartitions(tx: Tx, table: RetainedTable): Promise<string[]> {
  const rows = await tx<{ name: string }[]>`
    select c.relname as name
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
     where i.inhparent = to_regclass(${`gw.${table}`})`;
  return rows.map((r) => r.name);
}

/**
 * Creates month partition `p` (ids `p.fromKey` to `p.toKey`) unless it exists (gw.create_month_partition, sql/0025_retention.sql); true when created.
 * Run in its own transaction: it sets a local `lock_timeout`. Throws the database error, e.g. 55P03 on lock
 * timeout, or 23514 when the default partition already holds rows of that month.
 */
export async function createMonthPartition(tx: Tx, p: MonthPartition): Promise<boolean> {
  await tx`select set_config('lock_timeout', ${DDL_LOCK_TIMEOUT}, true)`;
  const [row] = await tx<{ created: boolean }[]>`
    select gw.create_month_partition(${p.table}, ${p.name}, ${p.fromKey}, ${p.toKey}) as created`;
  return row!.created;
}

/**
 * Drops month partition `p` and every row in it (gw.drop_month_partition refuses anything but a month partition of
 * `p.table`). Run in its own transaction: it sets a local `lock_timeout`; throws the database error.
 */
export async function dropMonthPartition(tx: Tx, p: MonthPartition): Promise<void> {
  await tx`select set_config('lock_timeout', ${DDL_LOCK_TIMEOUT}, true)`;
  await tx`select gw.drop_month_partition(${p.table}, ${p.name})`;
}

/**
 * Moves the rows of `gw.<table>_default` whose id has a time into their month partitions, creating those
 * (gw.move_default_partition_rows, sql/0120_retention_default_rows.sql); returns how many moved, 0 when there were
 * none (then nothing was locked). Run in its own transaction: it sets a local `lock_timeout`; throws the database
 * error, e.g. 55P03 on lock timeout.
 */
export async function moveDefaultPartitionRows(tx: Tx, table: RetainedTable): Promise<number> {
  await tx`select set_config('lock_timeout', ${DDL_LOCK_TIMEOUT}, true)`;
  const [row] = await tx<{ moved: string }[]>`
    select gw.move_default_partition_rows(${table}, ${KEY_COLUMN[table]}, ${ID_PREFIX[table]}) as moved`;
  return Number(row!.moved);
}
