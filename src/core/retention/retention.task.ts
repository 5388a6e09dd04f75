import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { expiredPartitions, partitionsAhead, RETAINED_TABLES, type MonthPartition, type RetainedTable } from './partitions.js';
import { createMonthPartition, dropMonthPartition, listPartitions, moveDefaultPartitionRows } from './retention-store.js';

/** Month partitions made ahead of the current one, so the default partition stays empty. */
export const MONTHS_AHEAD = 2;

/** The retention setting of `table`, in days (0: forever). */
export function retentionDaysOf(config: Config, table: RetainedTable): number {
  switch (table) {
    case 'inbound_event_bodies':
      return config.SWITCHYARD_RETENTION_INBOUND_BODY_DAYS;
    case 'event_payloads':
      return config.SWITCHYARD_RETENTION_EVENT_PAYLOAD_DAYS;
    case 'attempt_response_bodies':
      return config.SWITCHYARD_RETENTION_ATTEMPT_RESPONSE_DAYS;
  }
}

/**
 * The `create_retention_partitions` cron task: first moves the rows of each retained table's default partition into
 * their month partitions, creating those (the default holds rows only when the task did not run for months or a
 * clock was far off: they would never be purged, and they would keep their month's partition from being created);
 * then makes the month partitions of every retained table for the month of `deps.clock()` and the
 * {@link MONTHS_AHEAD} after it, those missing. Returns the ones made ahead (those made for moved rows are logged).
 * Each step in its own transaction; throws the first database error after trying the others (graphile-worker
 * retries the job).
 */
export async function createRetentionPartitions(deps: Deps, now = deps.clock()): Promise<MonthPartition[]> {
  const created: MonthPartition[] = [];
  let failure: unknown;
  for (const table of RETAINED_TABLES) {
    try {
      const moved = await deps.sql.begin((tx) => moveDefaultPartitionRows(tx, table));
      if (moved > 0) deps.logger.warn({ table, moved }, 'rows of a default retention partition moved into their month partitions');
    } catch (error) {
      failure ??= error;
      deps.logger.warn({ err: error, table }, 'could not move the rows of a default retention partition; the next run retries');
    }
  }
  for (const table of RETAINED_TABLES) {
    for (const p of partitionsAhead(table, now, MONTHS_AHEAD)) {
      try {
        if (await deps.sql.begin((tx) => createMonthPartition(tx, p))) created.push(p);
      } catch (error) {
        failure ??= error;
        deps.logger.warn({ err: error, partition: p.name }, 'could not create a retention partition; the next run retries');
      }
    }
  }
  if (created.length > 0) deps.logger.info({ partitions: created.map((p) => p.name) }, 'retention partitions created');
  if (failure !== undefined) throw failure;
  return created;
}

/**
 * The `purge_expired_partitions` cron task: drops every month partition whose rows are all older than its table's
 * retention at `deps.clock()` (partitions.ts expiredPartitions; 0 days keeps all); returns the ones dropped. A drop is
 * DDL on one table: no per-row work, whatever the rows it removes. Each in its own transaction; throws the first
 * database error after trying the others.
 */
export async function purgeExpiredPartitions(deps: Deps, now = deps.clock()): Promise<MonthPartition[]> {
  const dropped: MonthPartition[] = [];
  let failure: unknown;
  for (const table of RETAINED_TABLES) {
    const expired = expiredPartitions(table, await listPartitions(deps.sql, table), now, retentionDaysOf(deps.config, table));
    for (const p of expired) {
      try {
        await deps.sql.begin((tx) => dropMonthPartition(tx, p));
        dropped.push(p);
      } catch (error) {
        failure ??= error;
        deps.logger.warn({ err: error, partition: p.name }, 'could not drop an expired retention partition; the next run retries');
      }
    }
  }
  if (dropped.length > 0) deps.logger.info({ partitions: dropped.map((p) => p.name) }, 'expired retention partitions dropped');
  if (failure !== undefined) throw failure;
  return dropped;
}
