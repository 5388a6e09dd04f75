// (node) graphile-worker tasks and cron items of reconciliation, for src/app/worker.ts.
import { parseCronItems, type ParsedCronItem, type Task } from 'graphile-worker';
import type { Config } from '../core/config.js';
import type { Deps } from '../core/deps.js';
import { parseJobPayload, type TaskName } from '../core/jobs/catalog.js';
import { checkLedgers } from './ledger-check.task.js';
import { pullSettlementReport } from './pull-report.task.js';
import { giveUpRun, reconcileRun } from './reconcile.task.js';

type ReconciliationTask = Extract<TaskName, 'reconcile_settlement_report' | 'check_ledgers' | 'pull_settlement_report'>;

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
    pull_settlement_report: async (payload) => {
      const job = parseJobPayload('pull_settlement_report', payload);
      const pulled = await pullSettlementReport(deps, job);
      const log = { sourceId: job.sourceId, report: job.report.kind === 'stripe_payout' ? job.report.payoutId : job.report.fileName };
      if (pulled.kind === 'skipped') deps.logger.info({ ...log, reason: pulled.reason }, 'settlement report not pulled');
      else if (pulled.kind === 'failed') deps.logger.error({ ...log, runId: pulled.runId }, 'settlement report pull refused');
      else {
        const runId = pulled.outcome.kind === 'created' ? pulled.outcome.runId : pulled.outcome.run.id;
        deps.logger.info({ ...log, runId, existing: pulled.outcome.kind === 'existing' }, 'settlement report pulled');
      }
    },
    check_ledgers: async (payload) => {
      parseJobPayload('check_ledgers', payload);
      await checkLedgers(deps);
    },
  };
}

/**
 * Cron items for `run({ parsedCronItems })` (https://worker.graphile.org/docs/cron): check every merchant's ledger
 * every SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES minutes (default 5); no backfill.
 */
export function reconciliationCronItems(config: Pick<Config, 'SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES'>): ParsedCronItem[] {
  return parseCronItems([
    {
      task: 'check_ledgers' satisfies ReconciliationTask,
      match: `*/${config.SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES} * * * *`,
      identifier: 'check_ledgers',
    },
  ]);
}
