// The reads behind the scrape-time gauges of GET /metrics: one cheap query each.
import type { Sql } from '../../core/db/client.js';

/** The graphile-worker queue for one task identifier, as of the query. */
export interface QueueStats {
  task: string;
  /** Due now and not locked: waiting for a free worker. */
  ready: number;
  /** Not due yet: a later delivery attempt, or graphile-worker's backoff after a thrown error. */
  scheduled: number;
  /** Locked by a worker (running, or abandoned by a dead one until the recovery sweep frees it). */
  running: number;
  /** Out of graphile-worker attempts; kept in the table until someone deletes them. */
  failed: number;
  /** How long the oldest ready job has been due, seconds (0 when none is). */
  oldestReadySeconds: number;
}

/**
 * graphile-worker's unfinished and failed jobs per task and state, and the oldest ready
 * job's age, by the database's clock; tasks with no job are absent.
 *
 * Source: node_modules/graphile-worker/sql/000011.sql (`_private_jobs`, `is_available`).
 *
 * @example
 * const stats = await readQueueStats(sql); // [{ task: 'deliver_message', ready: 3, … }]
 */
export async function readQueueStats(sql: Sql): Promise<QueueStats[]> {
  return sql<QueueStats[]>`
    select t.identifier as task,
           (count(*) filter (where j.is_available and j.run_at <= now()))::int as ready,
           (count(*) filter (where j.is_available and j.run_at > now()))::int as scheduled,
           (count(*) filter (where j.locked_at is not null))::int as running,
           (count(*) filter (where j.locked_at is null and j.attempts >= j.max_attempts))::int as failed,
           coalesce(extract(epoch from now() - min(j.run_at) filter (where j.is_available and j.run_at <= now())), 0)::float8
             as "oldestReadySeconds"
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     group by t.identifier`;
}

/**
 * How many endpoints are disabled (410, sustained failure, or by their merchant), all merchants.
 *
 * @example
 * const n = await countDisabledEndpoints(sql); // 2
 */
export async function countDisabledEndpoints(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n
      from gw.endpoints
     where status = 'disabled'`;
  return row?.n ?? 0;
}
