import type postgres from 'postgres';
import type { Tx } from '../db/client.js';
import type { JobPayload, TaskName } from './catalog.js';

/**
 * Queues a graphile-worker job inside the caller's transaction (`graphile_worker.add_job`),
 * so the job exists if and only if the caller's writes commit: the outbox pattern without
 * an outbox table. `runAt` defaults to now; `jobKey` makes re-queueing the same work
 * replace rather than duplicate a job that has not started; `maxAttempts` counts
 * graphile-worker's own retries after a thrown error (infrastructure failures), not
 * delivery attempts, which are ours.
 *
 * Source: https://worker.graphile.org/docs/sql-add-job
 */
export async function enqueueJob<T extends TaskName>(
  tx: Tx,
  task: T,
  payload: JobPayload<T>,
  options: { runAt?: Date; jobKey?: string; maxAttempts?: number } = {},
): Promise<void> {
  await tx`
    select graphile_worker.add_job(
      ${task},
      ${tx.json(payload as unknown as postgres.JSONValue)}::json,
      run_at => ${options.runAt ?? null}::timestamptz,
      max_attempts => ${options.maxAttempts ?? 25}::int,
      job_key => ${options.jobKey ?? null}::text)`;
}
