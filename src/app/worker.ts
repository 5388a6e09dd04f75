// (node) The graphile-worker runner with Switchyard's tasks.
import { Logger as GraphileLogger, run, type Runner, type Task, type TaskList } from 'graphile-worker';
import type { Deps, Log } from '../core/deps.js';
import { processInboundEvent, processInboundEvents } from '../inbound/process-event.task.js';
import { deliverMessages } from '../outbound/deliver.task.js';
import { enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { paymentsApiCronItems, paymentsApiTaskList } from '../payments-api/tasks.js';
import { EndpointSlots } from '../outbound/endpoint-slots.js';
import { parseJobPayload, type TaskName } from '../core/jobs/catalog.js';
import { isJobExhausted } from '../core/jobs/job-store.js';
import { recoverySweepIntervalMs, recoveryThresholdSeconds, unlockAbandonedJobs } from '../core/jobs/recovery.js';

/** `task`, reporting each run to `deps.metrics?.job(name, 'ok' | 'error')`; errors still reach graphile-worker. */
function counted(deps: Deps, name: TaskName, task: Task): Task {
  return async (payload, helpers) => {
    try {
      await task(payload, helpers);
    } catch (error) {
      deps.metrics?.job(name, 'error');
      throw error;
    }
    deps.metrics?.job(name, 'ok');
  };
}

/**
 * The task list (inbound, delivery, payments API). Payloads are parsed with the job catalog
 * (malformed throws, so the job fails). Deliveries share one per-endpoint EndpointSlots cap
 * and stop starting attempts after {@link deliveryBudgetMs}.
 */
export function createTaskList(deps: Deps, options: { concurrency?: number } = {}): TaskList {
  // A hanging endpoint holds its slots up to the delivery timeout: cap it at a quarter of the workers.
  const concurrency = options.concurrency ?? deps.config.SWITCHYARD_WORKER_CONCURRENCY;
  const slots = new EndpointSlots(undefined, undefined, undefined, Math.max(1, Math.floor(concurrency / 4)));
  const budgetMs = deliveryBudgetMs(deps.config);
  return {
    ...paymentsApiTaskList(deps),
    process_inbound_event: counted(deps, 'process_inbound_event', async (payload) => {
      const job = parseJobPayload('process_inbound_event', payload);
      if ('inboundEventIds' in job) await processInboundEvents(deps, job.inboundEventIds);
      else await processInboundEvent(deps, job, { batchSize: deps.config.SWITCHYARD_PROCESS_BATCH_SIZE });
    }),
    deliver_message: counted(deps, 'deliver_message', async (payload, helpers) => {
      const parsed = parseJobPayload('deliver_message', payload);
      const jobs = Array.isArray(parsed) ? parsed : [parsed];
      try {
        await deliverMessages(deps, jobs, slots, { budgetMs });
      } catch (error) {
        // A batch job whose key was reused mid-run was exhausted by add_jobs and will not be
        // retried: requeue its attempts in a new job (recorded ones are skipped).
        if (!(await isJobExhausted(deps.sql, helpers.job.id)) || helpers.job.attempts >= helpers.job.max_attempts) throw error;
        await enqueueDeliveryBatches(deps.sql, jobs, new Date(Date.now() + 10_000));
        deps.logger.warn({ err: error, jobId: helpers.job.id }, 'delivery batch failed; queued again in a new job');
      }
    }),
  } satisfies Record<TaskName, Task>;
}

/**
 * How long a delivery batch job may start attempts, ms (at least 15 s): the recovery
 * threshold less the delivery timeout less 15 s, so its last attempt ends before the
 * sweeper takes the job as abandoned.
 */
export function deliveryBudgetMs(config: Deps['config']): number {
  return Math.max(15_000, recoveryThresholdSeconds(config) * 1000 - config.SWITCHYARD_DELIVERY_TIMEOUT_MS - 15_000);
}

/**
 * graphile-worker's logger, writing through ours (its debug lines dropped). Its info line per
 * finished job ("Completed task …", a cron's every minute too) goes to our debug: routine.
 */
export function graphileLogger(log: Log): GraphileLogger {
  return new GraphileLogger((scope) => (level, message, meta) => {
    const fields = { scope: { label: scope.label, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId }, ...(meta ?? {}) };
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else if (level === 'info' && message.startsWith('Completed task ')) log.debug(fields, message);
    else if (level === 'info') log.info(fields, message);
  });
}

/** Overrides of the abandoned-job sweep (tests); see {@link startRunner}. */
export interface RecoveryOptions {
  /** Sweep period, ms. Default: a third of the threshold, at most 10 s. */
  everyMs?: number;
  /** Lock age after which a job counts as abandoned, seconds. Default: {@link recoveryThresholdSeconds}. */
  olderThanSeconds?: number;
}

/**
 * Starts a graphile-worker runner on `connectionString` with `concurrency` jobs at once;
 * signals are left to the caller (`stop()` finishes in-flight jobs). Throws if it cannot
 * connect. Also sweeps, every `recovery.everyMs`, for jobs a dead worker left locked
 * (graphile-worker would hold them 4 hours) via {@link unlockAbandonedJobs}; a failed sweep
 * is logged and retried next tick.
 */
export async function startRunner(
  deps: Deps,
  options: { connectionString: string; concurrency: number; pollIntervalMs?: number; recovery?: RecoveryOptions },
): Promise<Runner> {
  const runner = await run({
    connectionString: options.connectionString,
    concurrency: options.concurrency,
    // graphile-worker's own pool: one connection per concurrent job, as it recommends; tasks use deps.sql.
    maxPoolSize: Math.max(10, options.concurrency + 1),
    pollInterval: options.pollIntervalMs ?? 2000,
    noHandleSignals: true,
    parsedCronItems: paymentsApiCronItems(),
    logger: graphileLogger(deps.logger),
    taskList: createTaskList(deps, { concurrency: options.concurrency }),
  });

  const olderThanSeconds = options.recovery?.olderThanSeconds ?? recoveryThresholdSeconds(deps.config);
  const everyMs = options.recovery?.everyMs ?? recoverySweepIntervalMs(olderThanSeconds);
  const sweepOnce = async (): Promise<void> => {
    try {
      const unlocked = await unlockAbandonedJobs(deps.sql, olderThanSeconds);
      if (unlocked.jobs + unlocked.queues > 0) {
        deps.logger.warn({ ...unlocked, olderThanSeconds }, 'unlocked jobs abandoned by a dead worker');
      }
    } catch (err) {
      deps.logger.warn({ err, olderThanSeconds }, 'abandoned-job sweep failed');
    }
  };
  let sweeping: Promise<void> | undefined;
  const sweep = (): void => {
    if (sweeping) return; // the previous sweep is still running
    sweeping = sweepOnce().finally(() => {
      sweeping = undefined;
    });
  };
  sweep(); // at start too: a restarted process frees what its predecessor left at once
  const timer = setInterval(sweep, everyMs);
  timer.unref();
  // Also when graphile-worker stops the runner itself (it emits 'stop' from runner.stop()).
  runner.events.once('stop', () => clearInterval(timer));

  return {
    ...runner,
    async stop() {
      clearInterval(timer);
      await sweeping; // never rejects; the caller may end deps.sql right after stop()
      await runner.stop();
    },
  };
}
