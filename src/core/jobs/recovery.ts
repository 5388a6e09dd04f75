// Recovering graphile-worker jobs abandoned by a worker that died without unlocking them.
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import { findStaleWorkers, lockWorkerJobs, unlockWorkers, wakeRunners } from './job-store.js';

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
 * every 10 s, so a job runs again within DESIGN.md's minute of its worker's death.
 */
export function recoverySweepIntervalMs(thresholdSeconds: number): number {
  return Math.max(1, Math.min(10_000, Math.floor((thresholdSeconds * 1000) / 3)));
}

/**
 * Unlocks the jobs and job queues held by workers that look dead (findStaleWorkers), in one
 * transaction, so they run again now rather than after graphile-worker's 4-hour lock
 * expiry. Their rows are locked first, so a worker that is in fact finishing commits before
 * or after us, never half-way. `olderThanSeconds` must exceed the longest legitimate job
 * ({@link recoveryThresholdSeconds}); too short, and a running job also runs elsewhere
 * (safe, as deliveries and processing are idempotent, but wasteful).
 *
 * @returns How many jobs and job queues were unlocked.
 *
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
