// (node) graphile-worker tasks and cron items of the payments API, for src/app/worker.ts.
import { parseCronItems, type ParsedCronItem, type Task } from 'graphile-worker';
import type { Deps } from '../core/deps.js';
import { parseJobPayload, type TaskName } from '../core/jobs/catalog.js';
import { purgeIdempotencyKeys } from './idempotency/purge.task.js';
import type { PaymentCommandOptions } from './commands.js';
import { checkStuckPayments } from './stuck-payments.task.js';
import { syncPspOperation, syncStalePspOperations } from './sync.task.js';
import { retryReviewCompensation } from './compensation.task.js';

type PaymentsApiTask = Extract<
  TaskName,
  'sync_psp_operation' | 'sync_stale_psp_operations' | 'purge_idempotency_keys' | 'check_stuck_payments' | 'retry_review_compensation'
>;

/** The payments API's tasks, spread into the runner's task list; payloads per core/jobs/catalog.ts. */
export function paymentsApiTaskList(
  deps: Deps,
  options: PaymentCommandOptions & { syncAfterSeconds?: number } = {},
): Record<PaymentsApiTask, Task> {
  return {
    sync_psp_operation: async (payload) => {
      await syncPspOperation(deps, parseJobPayload('sync_psp_operation', payload), options);
    },
    sync_stale_psp_operations: async (payload) => {
      parseJobPayload('sync_stale_psp_operations', payload);
      await syncStalePspOperations(deps, options.syncAfterSeconds);
    },
    check_stuck_payments: async (payload) => {
      parseJobPayload('check_stuck_payments', payload);
      const run = await checkStuckPayments(deps, options);
      if (run.found + run.asked + run.resolved > 0) deps.logger.info({ ...run }, 'stuck payments checked');
    },
    retry_review_compensation: async (payload) => {
      await retryReviewCompensation(deps, parseJobPayload('retry_review_compensation', payload), options);
    },
    purge_idempotency_keys: async (payload) => {
      parseJobPayload('purge_idempotency_keys', payload);
      await purgeIdempotencyKeys(deps);
    },
  };
}

/**
 * Cron items for `run({ parsedCronItems })` (https://worker.graphile.org/docs/cron): purge
 * idempotency keys every 10 minutes, sync stale PSP operations every minute, check stuck payments every 5 minutes;
 * no backfill.
 */
export function paymentsApiCronItems(): ParsedCronItem[] {
  return parseCronItems([
    { task: 'purge_idempotency_keys' satisfies PaymentsApiTask, match: '*/10 * * * *', identifier: 'purge_idempotency_keys' },
    { task: 'sync_stale_psp_operations' satisfies PaymentsApiTask, match: '* * * * *', identifier: 'sync_stale_psp_operations' },
    { task: 'check_stuck_payments' satisfies PaymentsApiTask, match: '*/5 * * * *', identifier: 'check_stuck_payments' },
  ]);
}
