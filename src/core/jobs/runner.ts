// (node) The graphile-worker runner with Switchyard's tasks.
import { Logger as GraphileLogger, run, type Runner, type Task, type TaskList } from 'graphile-worker';
import { z } from 'zod';
import type { Deps, Log } from '../http/env.js';
import { processInboundEvent } from '../../inbound/process-event.task.js';
import { deliverMessage } from '../../outbound/deliver.task.js';
import { EndpointSlots } from '../../outbound/endpoint-slots.js';
import type { TaskName } from './enqueue.js';
import { recoverySweepIntervalMs, recoveryThresholdSeconds, unlockAbandonedJobs } from './recovery.js';

const payloads = {
  process_inbound_event: z.object({ inboundEventId: z.string().min(1) }),
  deliver_message: z.object({ messageId: z.string().min(1), attempt: z.number().int().min(1) }),
} satisfies Record<TaskName, z.ZodType>;

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
 * The task list: each task parses its payload with zod (a malformed payload throws and
 * graphile-worker keeps the job as failed), then calls the plain function with `deps`.
 * Deliveries share one EndpointSlots, the per-endpoint cap of this process. Every run is
 * reported to `deps.metrics` as `ok` or `error` (it threw, so graphile-worker retries it).
 */
export function createTaskList(deps: Deps): TaskList {
  const slots = new EndpointSlots();
  return {
    process_inbound_event: counted(deps, 'process_inbound_event', async (payload) => {
      await processInboundEvent(deps, payloads.process_inbound_event.parse(payload));
    }),
    deliver_message: counted(deps, 'deliver_message', async (payload) => {
      await deliverMessage(deps, payloads.deliver_message.parse(payload), slots);
    }),
  };
}

/** graphile-worker's logger, writing through ours (debug lines dropped). */
export function graphileLogger(log: Log): GraphileLogger {
  return new GraphileLogger((scope) => (level, message, meta) => {
    const fields = { scope: { label: scope.label, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId }, ...(meta ?? {}) };
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
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
 * Starts a graphile-worker runner on `connectionString` with `concurrency` jobs at once.
 * Signals are left to the caller (`runner.stop()` finishes in-flight jobs first).
 * Throws if the runner cannot connect.
 *
 * The runner also sweeps for jobs abandoned by dead workers (a SIGKILL leaves them, and
 * their named queue, locked for graphile-worker's 4 hours): every `recovery.everyMs`
 * (default min(10 s, threshold / 3)) it calls {@link unlockAbandonedJobs} with threshold
 * `recovery.olderThanSeconds` (default max(SWITCHYARD_JOB_RECOVERY_SECONDS, delivery
 * timeout + 30 s)), so such jobs run again within about a minute. A failed sweep is
 * logged and retried at the next tick; the timer does not keep the process alive and
 * stops with the runner.
 */
export async function startRunner(
  deps: Deps,
  options: { connectionString: string; concurrency: number; pollIntervalMs?: number; recovery?: RecoveryOptions },
): Promise<Runner> {
  const runner = await run({
    connectionString: options.connectionString,
    concurrency: options.concurrency,
    pollInterval: options.pollIntervalMs ?? 2000,
    noHandleSignals: true,
    parsedCronItems: [],
    logger: graphileLogger(deps.logger),
    taskList: createTaskList(deps),
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
