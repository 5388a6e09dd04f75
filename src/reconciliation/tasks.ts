// (node) graphile-worker tasks of reconciliation, for src/app/worker.ts.
import type { Task } from 'graphile-worker';
import type { Deps } from '../core/deps.js';
import { parseJobPayload, type TaskName } from '../core/jobs/catalog.js';
import { giveUpRun, reconcileRun } from './reconcile.task.js';

type ReconciliationTask = Extract<TaskName, 'reconcile_settlement_report'>;

/** Reconciliation's tasks, spread into the runner's task list; payloads per core/jobs/catalog.ts. */
export function reconciliationTaskList(deps: Deps): Record<ReconciliationTask, Task> {
  return {
    reconcile_settlement_report: async (payload, helpers) => {
      const { runId } = parseJobPayload('reconcile_settlement_report', payload);
      try {
        await reconcileRun(deps, runId);
      } catch (err) {
        deps.logger.error({ err, runId, attempt: helpers.job.attempts }, 'reconciliation run failed');
        if (helpers.job.attempts >= helpers.job.max_attempts) await giveUpRun(deps, runId);
        throw err;
      }
    },
  };
}
