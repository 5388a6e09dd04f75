// (node) The graphile-worker runner with Switchyard's tasks.
import { Logger as GraphileLogger, run, type Runner, type TaskList } from 'graphile-worker';
import { z } from 'zod';
import type { Deps, Log } from '../http/env.js';
import { processInboundEvent } from '../../inbound/process-event.task.js';
import { deliverMessage } from '../../outbound/deliver.task.js';
import type { TaskName } from './enqueue.js';

const payloads = {
  process_inbound_event: z.object({ inboundEventId: z.string().min(1) }),
  deliver_message: z.object({ messageId: z.string().min(1), attempt: z.number().int().min(1) }),
} satisfies Record<TaskName, z.ZodType>;

/**
 * The task list: each task parses its payload with zod (a malformed payload throws and
 * graphile-worker keeps the job as failed), then calls the plain function with `deps`.
 */
export function createTaskList(deps: Deps): TaskList {
  return {
    process_inbound_event: async (payload) => {
      await processInboundEvent(deps, payloads.process_inbound_event.parse(payload));
    },
    deliver_message: async (payload) => {
      await deliverMessage(deps, payloads.deliver_message.parse(payload));
    },
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

/**
 * Starts a graphile-worker runner on `connectionString` with `concurrency` jobs at once.
 * Signals are left to the caller (`runner.stop()` finishes in-flight jobs first).
 * Throws if the runner cannot connect.
 */
export async function startRunner(
  deps: Deps,
  options: { connectionString: string; concurrency: number; pollIntervalMs?: number },
): Promise<Runner> {
  return run({
    connectionString: options.connectionString,
    concurrency: options.concurrency,
    pollInterval: options.pollIntervalMs ?? 2000,
    noHandleSignals: true,
    parsedCronItems: [],
    logger: graphileLogger(deps.logger),
    taskList: createTaskList(deps),
  });
}
