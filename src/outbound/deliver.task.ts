// (node) The `deliver` task: delivery attempts, one or a batch per job, within a time budget.
import type { Deps } from '../core/deps.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import { enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import type { DeliveryItem } from './deliver-attempt.js';
import { deliverToEndpoint } from './deliver-endpoint.js';
import { loadDeliveries } from './delivery-store.js';
import type { HealthPolicy } from './endpoint-health.js';
import type { EndpointSlots } from './endpoint-slots.js';

/** Attempts loaded and delivered together at most (one load query, one record statement per flush). */
const BATCH_CHUNK = 100;

/** Options of {@link deliverMessages}. */
interface BatchOptions {
  /**
   * No attempt is started after this many ms from the call (those left are queued again as
   * a new batch job, to run now), so that a job never runs long enough to look abandoned
   * to the sweeper (src/core/jobs/recovery.ts). Default: no limit.
   */
  budgetMs?: number;
}

/**
 * Makes attempt number `attempt` (1-based) of delivering message `messageId`: the batch
 * {@link deliverMessages} of one. Same contract.
 */
export async function deliverMessage(deps: Deps, job: DeliveryJob, slots?: EndpointSlots): Promise<void> {
  await deliverMessages(deps, [job], slots);
}

/**
 * Makes the delivery attempts `jobs` (each: attempt number `attempt`, 1-based, of message
 * `messageId`) per CONTRACT.md "Outbound webhooks": each message's bytes signed with every
 * active secret and POSTed (deliver-attempt.ts), then 2xx succeeds the message, 410 fails it
 * and disables the endpoint, anything else queues the next attempt on the retry schedule
 * (deliver-outcome.ts). A message is attempted once per call, at the lowest attempt number
 * asked for. Messages are loaded {@link BATCH_CHUNK} at a time in one query; each endpoint's
 * share goes through its gates and lanes (deliver-endpoint.ts), with `slots` shared by the
 * process's jobs. Attempts not started within `options.budgetMs`, or left after an
 * endpoint failed, are queued again as one batch job to run now.
 *
 * Idempotent: an attempt already recorded sends nothing; one whose job crashed before the
 * commit sends again (at least once). Throws only on infrastructure errors (the database),
 * so graphile-worker retries the job.
 */
export async function deliverMessages(
  deps: Deps,
  jobs: readonly DeliveryJob[],
  slots?: EndpointSlots,
  options: BatchOptions = {},
): Promise<void> {
  const { config } = deps;
  const policy: HealthPolicy = {
    circuitFailures: config.SWITCHYARD_CIRCUIT_FAILURES,
    circuitCooldownSeconds: config.SWITCHYARD_CIRCUIT_COOLDOWN_SECONDS,
    disableAfterSeconds: config.SWITCHYARD_DISABLE_AFTER_SECONDS,
  };
  const deadline = Date.now() + (options.budgetMs ?? Infinity);
  // One attempt per message: the lowest number asked for (a higher one for the same
  // message is made later, by the retry this one schedules, or is already absorbed).
  const wanted = new Map<string, DeliveryJob>();
  for (const j of jobs) {
    const seen = wanted.get(j.messageId);
    if (!seen || j.attempt < seen.attempt) wanted.set(j.messageId, j);
  }
  const all = [...wanted.values()];
  const left: DeliveryJob[] = [];
  for (let i = 0; i < all.length; i += BATCH_CHUNK) {
    const chunk = all.slice(i, i + BATCH_CHUNK);
    if (Date.now() >= deadline) {
      left.push(...chunk);
      continue;
    }
    const rows = new Map((await loadDeliveries(deps.sql, chunk.map((j) => j.messageId), deps.clock())).map((r) => [r.id, r]));
    const byEndpoint = new Map<string, DeliveryItem[]>();
    for (const job of chunk) {
      const m = rows.get(job.messageId);
      if (!m || m.attempts >= job.attempt) continue; // nothing left to send, or already recorded
      const group = byEndpoint.get(m.endpoint_id) ?? [];
      group.push({ job, m });
      byEndpoint.set(m.endpoint_id, group);
    }
    const leftovers = await Promise.all([...byEndpoint.values()].map((items) => deliverToEndpoint(deps, items, slots, policy, deadline)));
    for (const l of leftovers) left.push(...l);
  }
  // Out of time: the rest goes on in a new job, now.
  if (left.length > 0) await enqueueDeliveryBatches(deps.sql, left);
}
