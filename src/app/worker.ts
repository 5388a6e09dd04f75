// (node) The graphile-worker runner with Switchyard's tasks.
import { Logger as GraphileLogger, run, type Runner, type Task, type TaskList } from 'graphile-worker';
import type { Deps, Log } from '../core/deps.js';
import { processInboundEvents } from '../inbound/process-event.task.js';
import { deliverMessages, HandoffDeliveries } from '../outbound/deliver.task.js';
import { Batcher } from '../inbound/batcher.js';
import type { FirstAttemptHandoff } from '../core/events/outbox.js';
import { enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { paymentsApiCronItems, paymentsApiTaskList } from '../payments-api/tasks.js';
import { EndpointSlots } from '../outbound/endpoint-slots.js';
import { runReplayPage } from '../outbound/replay.js';
import { deliverOperatorEvent } from '../outbound/operator-webhook.task.js';
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

/** Options of {@link createTaskList}. */
interface TaskListOptions {
  /** Jobs the runner runs at once (default SWITCHYARD_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** The per-endpoint cap the deliveries share (default: {@link endpointSlotsFor} the concurrency). */
  slots?: EndpointSlots;
  /** Where processing hands its first attempts (default: a new {@link HandoffDeliveries} on `slots`, never stopped). */
  handoffs?: HandoffDeliveries;
}

/** A hanging endpoint holds its slots up to the delivery timeout: a process's cap is a quarter of its concurrency. */
function endpointSlotsFor(concurrency: number): EndpointSlots {
  return new EndpointSlots(undefined, undefined, undefined, Math.max(1, Math.floor(concurrency / 4)));
}

/**
 * The task list (inbound, delivery, payments API). Payloads are parsed with the job catalog
 * (malformed throws, so the job fails). Processing jobs running together share transactions of up to
 * SWITCHYARD_PROCESS_BATCH_SIZE events, at most SWITCHYARD_PROCESS_IN_FLIGHT at once (group commit: a
 * merchant's ledger rows are locked by a few transactions, not by every job), and hand the first attempts
 * they emit to `handoffs`. Deliveries share one per-endpoint EndpointSlots cap and stop starting attempts
 * after {@link deliveryBudgetMs}.
 */
export function createTaskList(deps: Deps, options: TaskListOptions = {}): TaskList {
  const concurrency = options.concurrency ?? deps.config.SWITCHYARD_WORKER_CONCURRENCY;
  const slots = options.slots ?? endpointSlotsFor(concurrency);
  const budgetMs = deliveryBudgetMs(deps.config);
  const handoffs = options.handoffs ?? new HandoffDeliveries(deps, slots, { budgetMs, maxInFlight: concurrency });
  const processing = new Batcher<{ ids: string[]; poolId: string }, void>({
    run: async (jobs) => {
      const handoff: FirstAttemptHandoff = { poolId: jobs[0]!.poolId, attempts: [], jobIds: [] };
      try {
        await processInboundEvents(
          deps,
          jobs.flatMap((j) => j.ids),
          { handoff },
        );
      } finally {
        // What committed (all, or the events that went through alone after a failure) is delivered now.
        await handoffs.start(handoff);
      }
      return jobs.map(() => undefined);
    },
    // A failed group is rerun by halves, so each job ends with its own events' outcome (processing is idempotent).
    isolate: () => true,
    maxWeight: deps.config.SWITCHYARD_PROCESS_BATCH_SIZE,
    weight: (job) => job.ids.length,
    windowMs: 0,
    maxInFlight: deps.config.SWITCHYARD_PROCESS_IN_FLIGHT,
  });
  return {
    ...paymentsApiTaskList(deps),
    process_inbound_event: counted(deps, 'process_inbound_event', async (payload, helpers) => {
      const job = parseJobPayload('process_inbound_event', payload);
      const ids = 'inboundEventIds' in job ? job.inboundEventIds : [job.inboundEventId];
      await processing.submit({ ids, poolId: helpers.job.locked_by ?? 'unknown' });
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
    replay_messages: counted(deps, 'replay_messages', async (payload) => {
      await runReplayPage(deps, parseJobPayload('replay_messages', payload));
    }),
    deliver_operator_event: counted(deps, 'deliver_operator_event', async (payload, helpers) => {
      await deliverOperatorEvent(deps, parseJobPayload('deliver_operator_event', payload), helpers.job.attempts, helpers.job.max_attempts);
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

/**
 * `connectionString` with `synchronous_commit=off` for graphile-worker's own connections (libpq `options`): losing
 * a job's fetch or completion in a crash only runs the job again, which our tasks allow, and a completion is never
 * kept while the task's earlier commit is lost (WAL is flushed in order); the commits that must be durable (the
 * ack's, with its job) are made on our pool. A string that is not a URL is returned as it is.
 * Source: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-OPTIONS
 */
export function withAsyncCommit(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return connectionString;
  }
  const options = url.searchParams.get('options');
  url.searchParams.set('options', `${options ? `${options} ` : ''}-c synchronous_commit=off`);
  return url.toString();
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
  options: { connectionString: string; concurrency: number; pollIntervalMs?: number; localQueueSize?: number; recovery?: RecoveryOptions },
): Promise<Runner> {
  const olderThanSeconds = options.recovery?.olderThanSeconds ?? recoveryThresholdSeconds(deps.config);
  const localQueueSize = options.localQueueSize ?? deps.config.SWITCHYARD_WORKER_LOCAL_QUEUE;
  const slots = endpointSlotsFor(options.concurrency);
  const handoffs = new HandoffDeliveries(deps, slots, { budgetMs: deliveryBudgetMs(deps.config), maxInFlight: options.concurrency });
  const runner = await run({
    connectionString: withAsyncCommit(options.connectionString),
    concurrency: options.concurrency,
    // graphile-worker's own pool: one connection per concurrent job, as it recommends; tasks use deps.sql.
    maxPoolSize: Math.max(10, options.concurrency + 1),
    pollInterval: options.pollIntervalMs ?? 2000,
    noHandleSignals: true,
    parsedCronItems: paymentsApiCronItems(),
    logger: graphileLogger(deps.logger),
    taskList: createTaskList(deps, { concurrency: options.concurrency, slots, handoffs }),
    preset: {
      worker: {
        // One query fetches (and locks) up to `size` jobs for the pool; they go back after `ttl`, well before the
        // sweep would take them for a dead worker's.
        ...(localQueueSize > 1 ? { localQueue: { size: localQueueSize, ttl: Math.floor((olderThanSeconds * 1000) / 3) } } : {}),
        // Completions of jobs finishing together share one statement; a crash before it reruns them (idempotent tasks).
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  });

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
      await handoffs.stop();
    },
  };
}
