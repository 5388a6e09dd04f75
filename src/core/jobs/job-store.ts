// graphile-worker's own tables, read and unlocked (node_modules/graphile-worker/sql/000016.sql).
import type { Tx } from '../db/client.js';

/** True when job `jobId` has no run left (`attempts >= max_attempts`); false when it is gone. */
export async function isJobExhausted(tx: Tx, jobId: string): Promise<boolean> {
  const [row] = await tx<{ exhausted: boolean }[]>`
    select attempts >= max_attempts as exhausted from graphile_worker._private_jobs where id = ${jobId}::bigint`;
  return row?.exhausted ?? false;
}

/**
 * The payload job `jobId` (graphile-worker's id, bigint as text) holds now, as stored JSON (runs may have taken attempts
 * out of it: {@link dropAttemptsFromJobs}); undefined when it is gone. Throws the database's error.
 */
export async function jobPayload(tx: Tx, jobId: string): Promise<unknown> {
  const [row] = await tx<{ payload: unknown }[]>`select payload from graphile_worker._private_jobs where id = ${jobId}::bigint`;
  return row?.payload;
}

/** Ids of workers that look dead: holding a job or queue lock over `olderThanSeconds`, or a queue lock but no job (it was removed). */
export async function findStaleWorkers(tx: Tx, olderThanSeconds: number): Promise<string[]> {
  const [found] = await tx<{ worker_ids: string[] }[]>`
    select coalesce(array_agg(distinct s.worker_id), '{}') as worker_ids
      from (
        select j.locked_by as worker_id
          from graphile_worker._private_jobs j
         where j.locked_at < now() - make_interval(secs => ${olderThanSeconds}::float8)
        union
        select q.locked_by
          from graphile_worker._private_job_queues q
         where q.locked_at < now() - make_interval(secs => ${olderThanSeconds}::float8)
            or (q.locked_by is not null
                and not exists (select 1 from graphile_worker._private_jobs j where j.locked_by = q.locked_by))
      ) s
     where s.worker_id is not null`;
  return found?.worker_ids ?? [];
}

/** Locks (`for update`) and counts the jobs and queues of `workerIds`, jobs first, the order graphile-worker's completeJob uses. */
export async function lockWorkerJobs(tx: Tx, workerIds: readonly string[]): Promise<{ jobs: number; queues: number }> {
  const [counts] = await tx<{ jobs: number; queues: number }[]>`
    with j as (
      select id from graphile_worker._private_jobs where locked_by = any(${workerIds as string[]}::text[]) for update
    ), q as (
      select id from graphile_worker._private_job_queues where locked_by = any(${workerIds as string[]}::text[]) for update
    )
    select (select count(*) from j)::int as jobs, (select count(*) from q)::int as queues`;
  return { jobs: counts?.jobs ?? 0, queues: counts?.queues ?? 0 };
}

/**
 * Releases `workerIds`' locks with `force_unlock_workers` (which keeps `attempts`, `run_at`). A job at `max_attempts` is first
 * set one below so it runs once more, not never: its last run, or a batch job whose key add_jobs reused while it ran.
 */
export async function unlockWorkers(tx: Tx, workerIds: readonly string[]): Promise<void> {
  await tx`
    update graphile_worker._private_jobs set attempts = max_attempts - 1
     where locked_by = any(${workerIds as string[]}::text[]) and attempts >= max_attempts and max_attempts > 1`;
  await tx`select graphile_worker.force_unlock_workers(${workerIds as string[]}::text[])`;
}

/**
 * The `process_inbound_event` job `poolId` holds locked for any of the inbound events `inboundEventIds` (the ack
 * path's job of a statement whose answer was lost), or undefined when none was committed.
 */
export async function findHandedProcessingJob(
  sql: Tx,
  poolId: string,
  inboundEventIds: readonly string[],
): Promise<{ jobId: string; inboundEventIds: string[] } | undefined> {
  const [job] = await sql<{ jobId: string; inboundEventIds: string[] }[]>`
    select j.id::text as "jobId", array(select json_array_elements_text(j.payload -> 'inboundEventIds')) as "inboundEventIds"
      from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'process_inbound_event'
       and j.locked_by = ${poolId}
       and (j.payload::jsonb -> 'inboundEventIds') ?| ${inboundEventIds as string[]}::text[]
     limit 1`;
  return job;
}

/** Deletes the jobs `ids` that `poolId` holds locked (enqueue.ts `enqueueHandoff`): their work is done. */
export async function removeHandedJobs(sql: Tx, ids: readonly string[], poolId: string): Promise<void> {
  await sql`delete from graphile_worker._private_jobs where id = any(${ids as string[]}::bigint[]) and locked_by = ${poolId}`;
}

/** Unlocks the jobs `ids` that `poolId` holds (enqueue.ts `enqueueHandoff`), so any worker runs them now, and wakes the runners. */
export async function releaseHandedJobs(sql: Tx, ids: readonly string[], poolId: string): Promise<void> {
  const released = await sql`
    update graphile_worker._private_jobs set locked_at = null, locked_by = null
     where id = any(${ids as string[]}::bigint[]) and locked_by = ${poolId}`;
  if (released.count > 0) await wakeRunners(sql, released.count);
}

/** Sends graphile-worker's own `jobs:insert` wake-up (on commit), so idle runners take `count` jobs now rather than at their next poll. */
export async function wakeRunners(tx: Tx, count: number): Promise<void> {
  await tx`select pg_notify('jobs:insert', json_build_object('r', random(), 'count', ${count}::int)::text)`;
}

/** The `deliver_message` jobs a delivery run was given, as the pool that holds them locked (graphile-worker's `locked_by`). */
export interface DeliveryJobOwner {
  /** graphile-worker job ids (bigint as text). */
  jobIds: readonly string[];
  /** The worker (pool) id the jobs are locked by; rows it no longer holds are left alone. */
  lockedBy: string;
}

/**
 * Takes the attempts of `messageIds` out of the payloads of the jobs `owner` holds, in the transaction that hands
 * them to another job (a put-off, or a batch of leftovers), so a rerun of those jobs (after a failure, an unlock or
 * a retry) cannot send them a second time beside their new job. An object payload naming one of them becomes `[]`.
 * Jobs `owner` no longer holds are left alone. Throws the database's error. Source: graphile-worker's job table
 * (node_modules/graphile-worker/sql/000016.sql; a failed job keeps its row's payload, dist/sql/failJobs.js).
 */
export async function dropAttemptsFromJobs(tx: Tx, owner: DeliveryJobOwner | undefined, messageIds: readonly string[]): Promise<void> {
  if (!owner || owner.jobIds.length === 0 || messageIds.length === 0) return;
  await tx`
    update graphile_worker._private_jobs j
       set payload = case
             when json_typeof(j.payload) = 'array' then coalesce(
               (select json_agg(e.value order by e.ordinality)
                  from json_array_elements(j.payload) with ordinality e
                 where not (e.value ->> 'messageId' = any(${messageIds as string[]}::text[]))),
               '[]'::json)
             else '[]'::json
           end
     where j.id = any(${owner.jobIds as string[]}::bigint[]) and j.locked_by = ${owner.lockedBy}
       and (json_typeof(j.payload) = 'array' or j.payload ->> 'messageId' = any(${messageIds as string[]}::text[]))`;
}
