// (node) The graphile-worker runner with Switchyard's tasks.
import { EventEmitter } from 'node:events';
import {
  Logger as GraphileLogger,
  parseCronItems,
  run,
  type ParsedCronItem,
  type Runner,
  type Task,
  type TaskList,
  type WorkerEvents,
} from 'graphile-worker';
import type { Deps, Log } from '../core/deps.js';
import { processInboundEvents } from '../inbound/process-event.task.js';
import { deliverMessages, HandoffDeliveries } from '../outbound/deliver.task.js';
import { Batcher } from '../inbound/batcher.js';
import type { FirstAttemptHandoff } from '../core/events/outbox.js';
import { enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { paymentsApiCronItems, paymentsApiTaskList } from '../payments-api/tasks.js';
import { reconciliationCronItems, reconciliationTaskList } from '../reconciliation/tasks.js';
import { EndpointSlots } from '../outbound/endpoint-slots.js';
import { SlotLeases } from '../outbound/slot-leases.js';
import { parseJobPayload, type TaskName } from '../core/jobs/catalog.js';
import { isJobExhausted, releaseHandedJobs, removeHandedJobs } from '../core/jobs/job-store.js';
import type { ProcessingHandoff, ProcessingTicket } from '../core/jobs/processing-handoff.js';
import { recoverySweepIntervalMs, recoveryThresholdSeconds, unlockAbandonedJobs } from '../core/jobs/recovery.js';
import { createRetentionPartitions, purgeExpiredPartitions } from '../core/retention/retention.task.js';

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
 * Retention's cron items (docs/architecture.md "Retention"): partitions made ahead at minute 7 of every hour, expired
 * ones dropped at minute 37; no backfill (each run does all that is due).
 */
export function retentionCronItems(): ParsedCronItem[] {
  return parseCronItems([
    { task: 'create_retention_partitions' satisfies TaskName, match: '7 * * * *', identifier: 'create_retention_partitions' },
    { task: 'purge_expired_partitions' satisfies TaskName, match: '37 * * * *', identifier: 'purge_expired_partitions' },
  ]);
}

/** Options of {@link createTaskList}. */
interface TaskListOptions {
  /** Jobs the runner runs at once (default SWITCHYARD_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** The per-endpoint cap the deliveries share (default: {@link endpointSlotsFor} the concurrency). */
  slots?: EndpointSlots;
  /** Where processing hands its first attempts (default: a new {@link HandoffDeliveries} on `slots`, never stopped). */
  handoffs?: HandoffDeliveries;
  /** Out: set to where the ack path of this process hands processing jobs (see {@link HandedProcessing}). */
  handedProcessing?: { value?: HandedProcessing };
}

/** One processing job in the group-commit batcher: its events, its pool and, when the ack path handed it over, its job. */
interface ProcessingItem {
  ids: string[];
  poolId: string;
  /** A job committed locked by the pool (core/jobs/processing-handoff.ts); `removed` once a transaction deleted it. */
  handed?: { jobId: string; removed: boolean };
}

/**
 * A hanging endpoint holds its slots up to the delivery timeout: a process's cap is a quarter of its concurrency.
 * With `leases`, within this process's share of each endpoint's max_in_flight across processes.
 */
function endpointSlotsFor(concurrency: number, leases?: SlotLeases): EndpointSlots {
  return new EndpointSlots(undefined, undefined, undefined, Math.max(1, Math.floor(concurrency / 4)), leases);
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
  const processing = new Batcher<ProcessingItem, void>({
    run: async (jobs) => {
      const poolId = jobs[0]!.poolId;
      const handoff: FirstAttemptHandoff = { poolId, attempts: [], jobIds: [] };
      const handed = jobs.flatMap((j) => (j.handed ? [j.handed] : []));
      const handedJobs = { poolId, jobIds: handed.map((h) => h.jobId), removed: false };
      try {
        await processInboundEvents(
          deps,
          jobs.flatMap((j) => j.ids),
          { handoff, handedJobs },
        );
        if (handedJobs.removed) for (const h of handed) h.removed = true;
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
  if (options.handedProcessing) {
    options.handedProcessing.value = new HandedProcessing(deps, (item) => processing.submit(item), HANDED_PROCESSING_MAX);
  }
  return {
    ...paymentsApiTaskList(deps),
    create_retention_partitions: async (payload) => {
      parseJobPayload('create_retention_partitions', payload);
      await createRetentionPartitions(deps);
    },
    purge_expired_partitions: async (payload) => {
      parseJobPayload('purge_expired_partitions', payload);
      await purgeExpiredPartitions(deps);
    },
    ...reconciliationTaskList(deps),
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
  } satisfies Record<TaskName, Task>;
}

/** Handed processing jobs a process holds at once; past it the ack path queues jobs for any worker. */
const HANDED_PROCESSING_MAX = 64;

/**
 * The worker side of {@link ProcessingHandoff} (`switchyard all`): a handed job's events go into the same group
 * commit as fetched jobs; the transaction deletes the job, or it is deleted after the events went through one by
 * one. A job whose processing failed is unlocked for any worker, which retries it with graphile-worker's backoff;
 * one whose unlock failed too is left to recovery (core/jobs/recovery.ts). Takes no ticket before {@link attach},
 * after {@link stop}, or past `max` held.
 */
export class HandedProcessing implements ProcessingHandoff {
  private poolId: string | undefined;
  private held = 0;
  private stopping = false;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly deps: Deps,
    private readonly submit: (item: ProcessingItem) => Promise<void>,
    private readonly max: number,
  ) {}

  /** Starts taking tickets for the graphile-worker pool `poolId` (known once the runner created it). */
  attach(poolId: string): void {
    this.poolId = poolId;
  }

  reserve(): ProcessingTicket | undefined {
    const poolId = this.poolId;
    if (poolId === undefined || this.stopping || this.held >= this.max) return undefined;
    this.held += 1;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.held -= 1;
      if (this.held === 0) for (const wake of this.idle.splice(0)) wake();
    };
    return {
      poolId,
      cancel: finish,
      hand: (job) => {
        void this.process(poolId, job).finally(finish);
      },
    };
  }

  private async process(poolId: string, job: { jobId: string; inboundEventIds: string[] }): Promise<void> {
    const { deps } = this;
    const item: ProcessingItem = { ids: job.inboundEventIds, poolId, handed: { jobId: job.jobId, removed: false } };
    try {
      await this.submit(item);
    } catch (err) {
      deps.metrics?.job('process_inbound_event', 'error');
      deps.logger.warn({ err, jobId: job.jobId }, 'processing of events just stored failed; their job is released to any worker');
      await releaseHandedJobs(deps.sql, [job.jobId], poolId).catch(() => {}); // else recovery unlocks it
      return;
    }
    deps.metrics?.job('process_inbound_event', 'ok');
    if (item.handed!.removed) return;
    await removeHandedJobs(deps.sql, [job.jobId], poolId).catch((err) => {
      // The events are processed: should the job run again after recovery, it finds nothing left to do.
      deps.logger.warn({ err, jobId: job.jobId }, 'could not delete a processed job; recovery will run it again');
    });
  }

  /** Takes no new ticket and waits until every ticket given out is cancelled or its job processed. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.held > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
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
 * is logged and retried next tick. Deliveries keep to this process's leased share of each
 * endpoint's max_in_flight ({@link SlotLeases}, renewed every second; `stop()` drops the leases).
 * `processingHandoff` is where this process's ack path hands the processing jobs it commits
 * ({@link HandedProcessing}; takes none when SWITCHYARD_PROCESS_HANDOFF is false).
 */
export async function startRunner(
  deps: Deps,
  options: { connectionString: string; concurrency: number; pollIntervalMs?: number; localQueueSize?: number; recovery?: RecoveryOptions },
): Promise<Runner & { processingHandoff: ProcessingHandoff }> {
  const olderThanSeconds = options.recovery?.olderThanSeconds ?? recoveryThresholdSeconds(deps.config);
  const localQueueSize = options.localQueueSize ?? deps.config.SWITCHYARD_WORKER_LOCAL_QUEUE;
  // Every runner shares each endpoint's max_in_flight with the other processes through leases.
  const leases = new SlotLeases(deps.sql, { logger: deps.logger });
  const slots = endpointSlotsFor(options.concurrency, leases);
  const handoffs = new HandoffDeliveries(deps, slots, { budgetMs: deliveryBudgetMs(deps.config), maxInFlight: options.concurrency });
  const handedProcessing: { value?: HandedProcessing } = {};
  const taskList = createTaskList(deps, { concurrency: options.concurrency, slots, handoffs, handedProcessing });
  // Our emitter, to learn the pool's id (the `locked_by` of handed jobs) as graphile-worker creates it.
  const events = new EventEmitter() as WorkerEvents;
  events.once('pool:create', ({ workerPool }) => handedProcessing.value?.attach(workerPool.id));
  const runner = await run({
    connectionString: withAsyncCommit(options.connectionString),
    events,
    concurrency: options.concurrency,
    // graphile-worker's own pool: one connection per concurrent job, as it recommends; tasks use deps.sql.
    maxPoolSize: Math.max(10, options.concurrency + 1),
    pollInterval: options.pollIntervalMs ?? 2000,
    noHandleSignals: true,
    parsedCronItems: [...paymentsApiCronItems(), ...retentionCronItems(), ...reconciliationCronItems(deps.config)],
    logger: graphileLogger(deps.logger),
    taskList,
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

  leases.start();

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

  const noHandoff: ProcessingHandoff = { reserve: () => undefined };
  return {
    ...runner,
    processingHandoff: deps.config.SWITCHYARD_PROCESS_HANDOFF ? (handedProcessing.value ?? noHandoff) : noHandoff,
    async stop() {
      clearInterval(timer);
      await sweeping; // never rejects; the caller may end deps.sql right after stop()
      // Handed jobs first (they feed the group commit and the first attempts), then the runner's, then the attempts.
      await handedProcessing.value?.stop();
      await runner.stop();
      await handoffs.stop();
      await leases.stop();
    },
  };
}
