// Recovering graphile-worker jobs abandoned by a worker that died without unlocking them.
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';

/**
 * Seconds after which a locked job is taken as abandoned, for `config`:
 * SWITCHYARD_JOB_RECOVERY_SECONDS (45), raised to the delivery timeout plus 30 s when that
 * is longer, so the longest legitimate job (a delivery attempt) always fits under it.
 */
export function recoveryThresholdSeconds(config: Pick<Config, 'SWITCHYARD_JOB_RECOVERY_SECONDS' | 'SWITCHYARD_DELIVERY_TIMEOUT_MS'>): number {
  return Math.max(config.SWITCHYARD_JOB_RECOVERY_SECONDS, Math.ceil(config.SWITCHYARD_DELIVERY_TIMEOUT_MS / 1000) + 30);
}

/**
 * How often the runner sweeps for abandoned jobs, ms: a third of the threshold, at most
 * every 10 s. A job is then picked up again at most threshold + 10 s (+ one poll) after
 * its worker died: 45 + 10 + 2 ≈ 57 s with the defaults, inside DESIGN.md's minute.
 */
export function recoverySweepIntervalMs(thresholdSeconds: number): number {
  return Math.max(1, Math.min(10_000, Math.floor((thresholdSeconds * 1000) / 3)));
}

/**
 * Unlocks the graphile-worker jobs and job queues held by workers that look dead, so the
 * jobs run again now instead of after graphile-worker's own 4-hour lock expiry.
 *
 * A worker (graphile-worker 0.16: one worker id per concurrency slot, one job at a time)
 * counts as dead when it has held a job lock, or a named-queue lock, for more than
 * `olderThanSeconds`, or when it holds a queue lock but no job any more (a queue left
 * locked by a job that was removed). Its locks are released with graphile-worker's own
 * `force_unlock_workers(worker_ids)`, which clears `locked_at`/`locked_by` on its jobs
 * and queues and nothing else: `attempts` is not bumped (a killed worker is not the job's
 * fault; the lost run was already counted when it was taken, as graphile-worker counts
 * every run) and `run_at` is kept, so the job is due at once. One exception: a job at
 * `max_attempts` (its last run, or a batch delivery job whose key graphile-worker's
 * add_jobs reused while it ran, which sets attempts to max_attempts) is set one below, so
 * that it runs once more instead of never. One transaction: the stale
 * workers are found, their rows locked (`for update`, so a worker that is in fact
 * finishing commits before or after us, never half-way) and counted, then unlocked, and a
 * `jobs:insert` NOTIFY wakes idle runners rather than waiting for their next poll.
 *
 * Choosing `olderThanSeconds`: it must exceed the longest legitimate job. For Switchyard
 * that is a delivery attempt: SWITCHYARD_DELIVERY_TIMEOUT_MS plus the database time around
 * it (see {@link recoveryThresholdSeconds}, which adds 30 s). A threshold that is too
 * short gives a false positive: a job still running on a live worker is unlocked and taken
 * by another worker, so it runs twice at once. That is safe here, only wasteful —
 * deliveries are at-least-once by contract and recorded idempotently per (message,
 * attempt_number), and inbound processing is idempotent per event — but every live job
 * of that worker id is released with it. Too long a threshold only delays recovery.
 *
 * @returns How many jobs and job queues were unlocked.
 *
 * Source: node_modules/graphile-worker/sql/000016.sql (`force_unlock_workers`),
 * https://worker.graphile.org/docs/sql-add-job
 */
export async function unlockAbandonedJobs(sql: Sql, olderThanSeconds: number): Promise<{ jobs: number; queues: number }> {
  return sql.begin(async (tx) => {
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
    const workerIds = found?.worker_ids ?? [];
    if (workerIds.length === 0) return { jobs: 0, queues: 0 };

    // Lock jobs before queues, the order graphile-worker's completeJob/failJob use.
    const [counts] = await tx<{ jobs: number; queues: number }[]>`
      with j as (
        select id from graphile_worker._private_jobs where locked_by = any(${workerIds}::text[]) for update
      ), q as (
        select id from graphile_worker._private_job_queues where locked_by = any(${workerIds}::text[]) for update
      )
      select (select count(*) from j)::int as jobs, (select count(*) from q)::int as queues`;
    // A job whose key was reused while it ran has attempts = max_attempts (graphile-worker's
    // add_jobs), so once unlocked it would never run again: give it back one run.
    await tx`
      update graphile_worker._private_jobs set attempts = max_attempts - 1
       where locked_by = any(${workerIds}::text[]) and attempts >= max_attempts and max_attempts > 1`;
    await tx`select graphile_worker.force_unlock_workers(${workerIds}::text[])`;
    const unlocked = { jobs: counts?.jobs ?? 0, queues: counts?.queues ?? 0 };
    if (unlocked.jobs + unlocked.queues > 0) {
      // graphile-worker's own wake-up for new jobs (sent on commit); idle workers poll otherwise.
      await tx`select pg_notify('jobs:insert', json_build_object('r', random(), 'count', ${Math.max(unlocked.jobs, 1)}::int)::text)`;
    }
    return unlocked;
  });
}
