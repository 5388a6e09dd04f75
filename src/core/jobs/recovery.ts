// Recovering graphile-worker jobs abandoned by a worker that died without unlocking them.
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import { findStaleWorkers, lockWorkerJobs, unlockWorkers, wakeRunners } from './job-store.js';

/** Seconds after which a locked job counts as abandoned: SWITCHYARD_JOB_RECOVERY_SECONDS, at least a delivery's timeout + 30 s. */
export function recoveryThresholdSeconds(
  config: Pick<Config, 'SWITCHYARD_JOB_RECOVERY_SECONDS' | 'SWITCHYARD_DELIVERY_TIMEOUT_MS'>,
): number {
  return Math.max(config.SWITCHYARD_JOB_RECOVERY_SECONDS, Math.ceil(config.SWITCHYARD_DELIVERY_TIMEOUT_MS / 1000) + 30);
}

/** Sweep interval, ms: a third of the threshold, at most 10 s, so a job reruns within docs/architecture.md's minute of its worker's death. */
export function recoverySweepIntervalMs(thresholdSeconds: number): number {
  return Math.max(1, Math.min(10_000, Math.floor((thresholdSeconds * 1000) / 3)));
}

/**
 * Unlocks the jobs and queues of workers that look dead, in one transaction, so they rerun now rather than after
 * graphile-worker's 4-hour lock expiry (also the first attempts they had handed themselves: enqueue.ts
 * `enqueueHandoff`). Rows are locked first, so a worker in fact finishing commits before or after us,
 * never half-way. `olderThanSeconds` must exceed the longest legitimate job ({@link recoveryThresholdSeconds}), else a
 * running job also runs elsewhere (safe, being idempotent, but wasteful). Returns how many jobs and queues were unlocked.
 * Source: node_modules/graphile-worker/sql/000016.sql (`force_unlock_workers`)
 */
export async function unlockAbandonedJobs(sql: Sql, olderThanSeconds: number): Promise<{ jobs: number; queues: number }> {
  return sql.begin(async (tx) => {
    const workerIds = await findStaleWorkers(tx, olderThanSeconds);
    if (workerIds.length === 0) return { jobs: 0, queues: 0 };
    const unlocked = await lockWorkerJobs(tx, workerIds);
    await unlockWorkers(tx, workerIds);
    if (unlocked.jobs + unlocked.queues > 0) await wakeRunners(tx, Math.max(unlocked.jobs, 1));
    return unlocked;
  });
}

/**
 * Unlocks the jobs and queues held by `workerIds`, workers this process knows are gone (a runner that stopped on a
 * database failure), now rather than after the abandoned-job threshold. Same transaction shape as
 * {@link unlockAbandonedJobs}. Returns how many jobs and queues were unlocked.
 */
export async function unlockJobsOfWorkers(sql: Sql, workerIds: readonly string[]): Promise<{ jobs: number; queues: number }> {
  if (workerIds.length === 0) return { jobs: 0, queues: 0 };
  return sql.begin(async (tx) => {
    const unlocked = await lockWorkerJobs(tx, workerIds);
    await unlockWorkers(tx, workerIds);
    if (unlocked.jobs + unlocked.queues > 0) await wakeRunners(tx, Math.max(unlocked.jobs, 1));
    return unlocked;
  });
}
