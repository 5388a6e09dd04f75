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
import pg from 'pg';
import type { Deps, Log } from '../core/deps.js';
import { fetchInboundObjects, processInboundEvents } from '../inbound/process-event.task.js';
import { deliverMessages, HandoffDeliveries } from '../outbound/deliver.task.js';
import { Batcher } from '../inbound/batcher.js';
import type { FirstAttemptHandoff } from '../core/events/outbox.js';
import { enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { paymentsApiCronItems, paymentsApiTaskList } from '../payments-api/tasks.js';
import { reconciliationCronItems, reconciliationTaskList } from '../reconciliation/tasks.js';
import { EndpointSlots } from '../outbound/endpoint-slots.js';
import { SlotLeases } from '../outbound/slot-leases.js';
import { runReplayPage } from '../outbound/replay.js';
import { deliverOperatorEvent } from '../outbound/operator-webhook.task.js';
import { parseJobPayload, type TaskName } from '../core/jobs/catalog.js';
import { findHandedProcessingJob, isJobExhausted, jobPayload, releaseHandedJobs, removeHandedJobs } from '../core/jobs/job-store.js';
import type { ProcessingHandoff, ProcessingTicket } from '../core/jobs/processing-handoff.js';
import { describeFailure } from '../core/db/errors.js';
import { recoverySweepIntervalMs, recoveryThresholdSeconds, unlockAbandonedJobs, unlockJobsOfWorkers } from '../core/jobs/recovery.js';
import { createRetentionPartitions, purgeExpiredPartitions } from '../core/retention/retention.task.js';
import { deleteExpiredPortalSessions, deleteOldLoginFailures } from './portal/portal-store.js';

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

/** Portal links and sessions that expired a day ago or more, and failed logins older than a day, are deleted. */
async function purgePortalLeftovers(deps: Deps): Promise<void> {
  const dayAgo = new Date(deps.clock().getTime() - 24 * 3600_000);
  const sessions = await deleteExpiredPortalSessions(deps.sql, dayAgo);
  const failures = await deleteOldLoginFailures(deps.sql, dayAgo);
  if (sessions + failures > 0) deps.logger.info({ sessions, failures }, 'expired portal sessions and old failed logins deleted');
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
      // Jobs handed to an earlier runner's pool (it was replaced) are deleted after, by their own pool id.
      const handed = jobs.flatMap((j) => (j.handed && j.poolId === poolId ? [j.handed] : []));
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
      // The portal's spent rows ride on this hourly cron: nothing opens them any more (README "The portal").
      await purgePortalLeftovers(deps);
      await purgeExpiredPartitions(deps);
    },
    ...reconciliationTaskList(deps),
    process_inbound_event: counted(deps, 'process_inbound_event', async (payload, helpers) => {
      const job = parseJobPayload('process_inbound_event', payload);
      const ids = 'inboundEventIds' in job ? job.inboundEventIds : [job.inboundEventId];
      await processing.submit({ ids, poolId: helpers.job.locked_by ?? 'unknown' });
    }),
    // Verify or fetch: PSP reads outside the processing group commit, so a slow PSP holds none of its slots.
    fetch_inbound_objects: counted(deps, 'fetch_inbound_objects', async (payload) => {
      await fetchInboundObjects(deps, parseJobPayload('fetch_inbound_objects', payload));
    }),
    deliver_message: counted(deps, 'deliver_message', async (payload, helpers) => {
      const parsed = parseJobPayload('deliver_message', payload);
      const jobs = Array.isArray(parsed) ? parsed : [parsed];
      try {
        const owner = helpers.job.locked_by ? { jobIds: [helpers.job.id], lockedBy: helpers.job.locked_by } : undefined;
        await deliverMessages(deps, jobs, slots, { budgetMs, ...(owner ? { owner } : {}) });
      } catch (error) {
        // A batch job whose key was reused mid-run was exhausted by add_jobs and will not be
        // retried: requeue its attempts in a new job (recorded ones are skipped).
        if (!(await isJobExhausted(deps.sql, helpers.job.id)) || helpers.job.attempts >= helpers.job.max_attempts) throw error;
        // What the job still holds: attempts this run put off or queued again have left its payload.
        const held = await jobPayload(deps.sql, helpers.job.id);
        const left = held === undefined ? jobs : parseJobPayload('deliver_message', held);
        await enqueueDeliveryBatches(deps.sql, Array.isArray(left) ? left : [left], new Date(Date.now() + 10_000));
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

/** Handed processing jobs a process holds at once; past it the ack path queues jobs for any worker. */
const HANDED_PROCESSING_MAX = 64;
/** Tries, a second apart, at a database that failed a handed job (to unlock it, or to find an in-doubt one) before recovery is left to it. */
const HANDED_RETRY_TRIES = 30;

/**
 * The worker side of {@link ProcessingHandoff} (`switchyard all`): a handed job's events go into the same group
 * commit as fetched jobs; the transaction deletes the job, or it is deleted after the events went through one by
 * one. A job whose processing failed is unlocked for any worker, which retries it with graphile-worker's backoff;
 * one whose unlock failed too is left to recovery (core/jobs/recovery.ts). Takes no ticket before {@link attach},
 * after {@link detach} or {@link stop}, or past `max` held.
 */
export class HandedProcessing implements ProcessingHandoff {
  private poolId: string | undefined;
  private held = 0;
  /** Tickets held per pool id. */
  private readonly heldBy = new Map<string, number>();
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

  /** Takes no ticket until the next {@link attach} (the runner whose pool it was is being replaced). */
  detach(): void {
    this.poolId = undefined;
  }

  reserve(): ProcessingTicket | undefined {
    const poolId = this.poolId;
    if (poolId === undefined || this.stopping || this.held >= this.max) return undefined;
    this.held += 1;
    this.heldBy.set(poolId, (this.heldBy.get(poolId) ?? 0) + 1);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.held -= 1;
      const left = (this.heldBy.get(poolId) ?? 1) - 1;
      if (left > 0) this.heldBy.set(poolId, left);
      else this.heldBy.delete(poolId);
      for (const wake of this.idle.splice(0)) wake();
    };
    return {
      poolId,
      cancel: finish,
      hand: (job) => {
        void this.process(poolId, job).finally(finish);
      },
      inDoubt: (inboundEventIds) => {
        void this.resolveInDoubt(poolId, inboundEventIds).finally(finish);
      },
    };
  }

  /** Runs `attempt` until it resolves, a second apart, {@link HANDED_RETRY_TRIES} times at most or until stopping; false when it never did. */
  private async retried<T>(attempt: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    for (let i = 1; ; i++) {
      try {
        return { ok: true, value: await attempt() };
      } catch {
        if (i >= HANDED_RETRY_TRIES || this.stopping) return { ok: false };
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** Finds whether the failed statement committed its job after all, once the database answers, and processes it if so. */
  private async resolveInDoubt(poolId: string, inboundEventIds: readonly string[]): Promise<void> {
    const found = await this.retried(() => findHandedProcessingJob(this.deps.sql, poolId, inboundEventIds));
    if (found.ok && found.value) await this.process(poolId, found.value); // else nothing was committed, or recovery finds it
  }

  private async process(poolId: string, job: { jobId: string; inboundEventIds: string[] }): Promise<void> {
    const { deps } = this;
    const item: ProcessingItem = { ids: job.inboundEventIds, poolId, handed: { jobId: job.jobId, removed: false } };
    try {
      await this.submit(item);
    } catch (err) {
      deps.metrics?.job('process_inbound_event', 'error');
      deps.logger.warn({ err, jobId: job.jobId }, 'processing of events just stored failed; their job is released to any worker');
      // The database that failed it may be failing still (a restart, a failover): tried again, else recovery unlocks it.
      await this.retried(() => releaseHandedJobs(deps.sql, [job.jobId], poolId));
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
    while (this.held > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Resolves once no ticket of the pools `poolIds` is held (their jobs processed, released or cancelled). */
  async settled(poolIds: ReadonlySet<string>): Promise<void> {
    while ([...poolIds].some((id) => this.heldBy.has(id))) await new Promise<void>((resolve) => this.idle.push(resolve));
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
 * finished job ("Completed task …", a cron's every minute too) goes to our debug: routine. An `error`
 * field is logged as its one-line `message (code)`.
 */
export function graphileLogger(log: Log): GraphileLogger {
  return new GraphileLogger((scope) => (level, message, meta) => {
    const fields: Record<string, unknown> = {
      scope: { label: scope.label, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId },
      ...(meta ?? {}),
    };
    // A pg pool error carries its client (config, parsed statements): the message and code are what help.
    if (fields.error !== undefined) fields.error = describeFailure(fields.error);
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

/** The logger of the newest runner, for {@link onGraphileReturnJobsFailure}. */
let returnJobsLog: Log | undefined;

/**
 * graphile-worker 0.17.3 rejects a promise nobody handles when a stopping runner cannot return its locally queued jobs
 * to the database (the database is what failed; its localQueue `returnJobs`): logged here, as the jobs are unlocked
 * once the runner has ended, or by the abandoned-job sweep. Any other unhandled rejection is thrown, which ends the
 * process as Node would have (unless another listener reports it). Installed once per process.
 */
function onGraphileReturnJobsFailure(reason: unknown): void {
  if (reason instanceof Error && reason.message.startsWith('Error occurred whilst returning jobs from local queue to database queue')) {
    returnJobsLog?.warn({ reason: reason.message }, 'worker runner could not return its queued jobs; they are unlocked once it has ended');
    return;
  }
  if (process.listenerCount('unhandledRejection') > 1) return; // another listener (a test runner's) reports it
  throw reason;
}

/** Pause between attempts to start a runner again after it stopped on a database failure, ms. */
const RESTART_DELAY_MS = 1_000;

/**
 * Starts a graphile-worker runner on `connectionString` with `concurrency` jobs at once;
 * signals are left to the caller (`stop()` finishes in-flight jobs). Throws if it cannot
 * connect. Also sweeps, every `recovery.everyMs`, for jobs a dead worker left locked
 * (graphile-worker would hold them 4 hours) via {@link unlockAbandonedJobs}; a failed sweep
 * is logged and retried next tick.
 *
 * graphile-worker stops its runner when it cannot record a job's outcome (the database went
 * away): this one is then started again, every {@link RESTART_DELAY_MS} until the database
 * answers, after unlocking the jobs the stopped one held (their outcome was never recorded, so
 * they run again; tasks are idempotent). Its connections come from one pg Pool kept for the
 * process, whose idle clients' errors are logged, never thrown. `events` is the same emitter
 * across restarts. Deliveries keep to this process's leased share of each endpoint's max_in_flight
 * ({@link SlotLeases}, renewed every second; `stop()` drops the leases). `processingHandoff` is where
 * this process's ack path hands the processing jobs it commits ({@link HandedProcessing}, on the
 * current runner's pool; takes none when SWITCHYARD_PROCESS_HANDOFF is false).
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
  // graphile-worker's own pool: one connection per concurrent job, as it recommends; tasks use deps.sql.
  const pgPool = new pg.Pool({ connectionString: withAsyncCommit(options.connectionString), max: Math.max(10, options.concurrency + 1) });
  // Both listeners present, so graphile-worker installs none of its own (and removes none when a runner stops).
  // A connection of the runner's that failed may have lost the answer to a fetch that locked jobs: the runner is
  // replaced (see `replace`), and what its pools still hold once it has ended is unlocked.
  let lastPoolErrorAt = 0;
  const onPoolError = (err: Error) => {
    lastPoolErrorAt = Date.now();
    deps.logger.warn({ reason: describeFailure(err) }, 'graphile-worker database connection failed');
    if (current !== undefined) replace(current, err);
  };
  pgPool.on('error', onPoolError);
  pgPool.on('connect', (client) => client.on('error', onPoolError));
  returnJobsLog = deps.logger;
  if (!process.listeners('unhandledRejection').includes(onGraphileReturnJobsFailure))
    process.on('unhandledRejection', onGraphileReturnJobsFailure);
  const events = new EventEmitter() as WorkerEvents;
  const handedProcessing: { value?: HandedProcessing } = {};
  const taskList = createTaskList(deps, { concurrency: options.concurrency, slots, handoffs, handedProcessing });
  const startOne = () =>
    run({
      pgPool,
      events,
      concurrency: options.concurrency,
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

  /** One graphile-worker runner and the worker pools it created (their ids are the jobs' `locked_by`). */
  interface Generation {
    runner?: Runner;
    poolIds: Set<string>;
    replaced: boolean;
  }
  let stopping = false;
  let stopped!: () => void;
  const finished = new Promise<void>((resolve) => (stopped = resolve));
  let starting: Generation | undefined;
  let restarting: Promise<void> | undefined;
  events.on('pool:create', ({ workerPool }) => starting?.poolIds.add(workerPool.id));
  const startGeneration = async (): Promise<Generation> => {
    const g: Generation = { poolIds: new Set(), replaced: false };
    starting = g;
    try {
      g.runner = await startOne();
    } finally {
      starting = undefined;
    }
    g.runner.promise.then(
      () => ended(g),
      (err: unknown) => ended(g, err),
    );
    // The ack path's jobs are committed locked by the newest pool from now on.
    const poolId = [...g.poolIds].at(-1);
    if (poolId !== undefined) handedProcessing.value?.attach(poolId);
    return g;
  };
  let current!: Generation; // set below, before any pool error can be heard
  try {
    current = await startGeneration();
  } catch (error) {
    await pgPool.end();
    throw error;
  }
  leases.start();
  // A pool that could not record a job's outcome shuts down (graphile-worker: "queue is in an inconsistent state"),
  // waiting for its running jobs: a new runner takes over at once.
  events.on('pool:fatalError', ({ workerPool }) => {
    if (current.poolIds.has(workerPool.id)) replace(current, 'a job outcome could not be recorded');
  });
  /** Stops `g` gracefully (it finishes its running jobs) and starts another runner as soon as the database answers. */
  const replace = (g: Generation, reason: unknown): void => {
    if (stopping || g.replaced) return;
    g.replaced = true;
    handedProcessing.value?.detach(); // until the next runner's pool is up
    deps.logger.error(
      { reason: describeFailure(reason) },
      'worker runner failing on a database error; starting another once the database answers',
    );
    g.runner?.stop().catch(() => {}); // already stopping, or stopped

    const loop: Promise<void> = (async () => {
      while (!stopping) {
        await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
        if (stopping) return;
        try {
          const startedAt = Date.now();
          const next = await startGeneration();
          if (stopping) {
            await next.runner?.stop();
            return;
          }
          current = next;
          deps.logger.warn({}, 'worker runner started again: the database answers');
          // A connection failing while it started may have lost a fetch's answer too.
          if (lastPoolErrorAt >= startedAt) replace(next, 'a connection failed while it started');
          return;
        } catch (err) {
          deps.logger.debug({ reason: describeFailure(err) }, 'worker runner cannot start yet');
        }
      }
    })().finally(() => {
      if (restarting === loop) restarting = undefined;
    });
    restarting = loop;
  };
  // Once a runner has ended, nothing of its pools runs but the first attempts it handed over: once those have
  // ended too, the jobs its pools still hold (fetched, or whose outcome could not be recorded) are unlocked now
  // rather than at the abandoned-job threshold.
  const ended = (g: Generation, err?: unknown): void => {
    if (stopping) return;
    replace(g, err ?? 'the runner stopped');
    void (async () => {
      await Promise.all([handoffs.settled(), handedProcessing.value?.settled(g.poolIds)]);
      for (let i = 0; i < 30 && !stopping; i++) {
        try {
          const unlocked = await unlockJobsOfWorkers(deps.sql, [...g.poolIds]);
          if (unlocked.jobs + unlocked.queues > 0) deps.logger.warn({ ...unlocked }, 'unlocked the jobs of a stopped runner');
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
        }
      }
    })();
  };

  const everyMs = options.recovery?.everyMs ?? recoverySweepIntervalMs(olderThanSeconds);
  const sweepOnce = async (): Promise<void> => {
    try {
      const unlocked = await unlockAbandonedJobs(deps.sql, olderThanSeconds);
      if (unlocked.jobs + unlocked.queues > 0) {
        deps.logger.warn({ ...unlocked, olderThanSeconds }, 'unlocked jobs abandoned by a dead worker');
      }
    } catch (err) {
      deps.logger.warn({ reason: describeFailure(err), olderThanSeconds }, 'abandoned-job sweep failed');
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

  const stopAll = async (stopRunner: (r: Runner) => Promise<void>): Promise<void> => {
    stopping = true;
    clearInterval(timer);
    await sweeping; // never rejects; the caller may end deps.sql right after stop()
    await restarting;
    // Handed jobs first (they feed the group commit and the first attempts), then the runner's, then the attempts.
    await handedProcessing.value?.stop();
    // A runner that stopped by itself has nothing left to stop.
    await (current.runner ? stopRunner(current.runner) : Promise.resolve()).catch((err: unknown) =>
      deps.logger.debug({ reason: describeFailure(err) }, 'runner already stopped'),
    );
    await handoffs.stop();
    await leases.stop();
    await pgPool.end();
    stopped();
  };
  const noHandoff: ProcessingHandoff = { reserve: () => undefined };
  return {
    processingHandoff: deps.config.SWITCHYARD_PROCESS_HANDOFF ? (handedProcessing.value ?? noHandoff) : noHandoff,
    addJob: (...args) => current.runner!.addJob(...args),
    events,
    promise: finished,
    stop: () => stopAll((r) => r.stop()),
    kill: () => stopAll((r) => r.kill()),
  };
}
