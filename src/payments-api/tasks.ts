// (node) graphile-worker tasks and cron items of the payments API, for src/core/jobs/runner.ts.
import { parseCronItems, type ParsedCronItem, type TaskList } from 'graphile-worker';
import { z } from 'zod';
import type { Deps } from '../core/deps.js';
import { PURGE_IDEMPOTENCY_KEYS_TASK, purgeIdempotencyKeys } from './idempotency/purge.task.js';
import type { PaymentCommandOptions } from './commands.js';
import { syncPspOperation, syncStalePspOperations } from './sync.task.js';

const syncPayload = z.object({ operationId: z.string().min(1) });

/**
 * The payments API's tasks: `sync_psp_operation` ({operationId}), `sync_stale_psp_operations`
 * and `purge_idempotency_keys` (both cron). Spread into the runner's task list:
 * `{ ...createTaskList(deps), ...paymentsApiTaskList(deps) }`.
 */
export function paymentsApiTaskList(deps: Deps, options: PaymentCommandOptions & { syncAfterSeconds?: number } = {}): TaskList {
  return {
    sync_psp_operation: async (payload) => {
      await syncPspOperation(deps, syncPayload.parse(payload), options);
    },
    sync_stale_psp_operations: async () => {
      await syncStalePspOperations(deps, options.syncAfterSeconds);
    },
    [PURGE_IDEMPOTENCY_KEYS_TASK]: async () => {
      await purgeIdempotencyKeys(deps);
    },
  };
}

/**
 * graphile-worker cron items (https://worker.graphile.org/docs/cron): purge expired
 * idempotency keys every 10 minutes; sync stale PSP operations every minute. Each has an
 * identifier so graphile-worker's `known_crontabs` tracks it; no backfill (a missed run is
 * simply covered by the next). Pass as `parsedCronItems` to `run()`.
 */
export function paymentsApiCronItems(): ParsedCronItem[] {
  return parseCronItems([
    { task: PURGE_IDEMPOTENCY_KEYS_TASK, match: '*/10 * * * *', identifier: 'purge_idempotency_keys' },
    { task: 'sync_stale_psp_operations', match: '* * * * *', identifier: 'sync_stale_psp_operations' },
  ]);
}
