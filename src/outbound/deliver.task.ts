// (node) The `deliver` task: delivery attempts, one or a batch per job, within a time budget.
import type { Deps } from '../core/deps.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import { enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { dropAttemptsFromJobs, releaseHandedJobs, removeHandedJobs, type DeliveryJobOwner } from '../core/jobs/job-store.js';
import type { FirstAttemptHandoff } from '../core/events/outbox.js';
import type { DeliveryItem } from './deliver-attempt.js';
import { deliverToEndpoint } from './deliver-endpoint.js';
import { failMessages, loadDeliveries } from './delivery-store.js';
import type { HealthPolicy } from './endpoint-health.js';
import type { EndpointSlots } from './endpoint-slots.js';

/** Tries at releasing a failed handoff's jobs, a second apart, before the recovery sweep is left to unlock them. */
const RELEASE_TRIES = 10;

/** Attempts loaded and delivered together at most (one load query, one record statement per flush). */
const BATCH_CHUNK = 100;

/** Options of {@link deliverMessages}. */
interface BatchOptions {
  /**
   * No attempt starts after this many ms (the rest go to a new batch job, due now), so a job never looks
   * abandoned to the sweeper (src/core/jobs/recovery.ts). Default: no limit.
   */
  budgetMs?: number;
  /**
   * The jobs `jobs` came from, locked by this run: attempts it hands to another job (put off, or left for a new
   * batch) are taken out of them in the same transaction, so a rerun of those jobs does not send them twice.
   */
  owner?: DeliveryJobOwner;
}

/** Makes attempt `attempt` (1-based) of message `messageId`: {@link deliverMessages} of one job. */
export async function deliverMessage(deps: Deps, job: DeliveryJob, slots?: EndpointSlots): Promise<void> {
  await deliverMessages(deps, [job], slots);
}

/**
 * Makes the delivery attempts `jobs` ask for (each: attempt `attempt`, 1-based, of message `messageId`;
 * docs/http-api.md "Outbound webhooks"), once per message at the lowest number asked. Messages load
 * {@link BATCH_CHUNK} per query; each endpoint's share goes to deliverToEndpoint, with `slots` shared by the
 * process's jobs. Attempts not started within `options.budgetMs`, or left after an endpoint failed, are queued
 * again as one batch job due now.
 *
 * Idempotent: a recorded attempt sends nothing; one whose job crashed before its commit sends again (at least
 * once). Throws only on database errors, so graphile-worker retries the job.
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
  // A higher attempt of the same message comes from the retry this one schedules.
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
    const rows = new Map(
      (
        await loadDeliveries(
          deps.sql,
          chunk.map((j) => j.messageId),
          deps.clock(),
        )
      ).map((r) => [r.id, r]),
    );
    const byEndpoint = new Map<string, DeliveryItem[]>();
    const expired: string[] = [];
    for (const job of chunk) {
      const loaded = rows.get(job.messageId);
      if (!loaded || loaded.attempts >= job.attempt) continue; // nothing left to send, or already recorded
      const { payload } = loaded;
      if (payload === null) {
        // The event's payload was purged (retention) while the message was still pending: it can never be sent.
        expired.push(loaded.id);
        continue;
      }
      const m = { ...loaded, payload };
      const group = byEndpoint.get(m.endpoint_id) ?? [];
      group.push({ job, m });
      byEndpoint.set(m.endpoint_id, group);
    }
    await failMessages(deps.sql, expired);
    const leftovers = await Promise.all(
      [...byEndpoint.values()].map((items) => deliverToEndpoint(deps, items, slots, policy, deadline, options.owner)),
    );
    for (const l of leftovers) left.push(...l);
  }
  if (left.length === 0) return;
  await deps.sql.begin(async (tx) => {
    await enqueueDeliveryBatches(tx, left);
    await dropAttemptsFromJobs(
      tx,
      options.owner,
      left.map((j) => j.messageId),
    );
  });
}

/**
 * Makes the first attempts a committed transaction handed over (outbox.ts {@link FirstAttemptHandoff}) at once,
 * through {@link deliverMessages} with `slots` and `options`, then removes their jobs, which the pool holds locked.
 * Should the process die first, recovery unlocks those jobs and recorded attempts are not sent again (at least
 * once). Throws only on database errors; the caller then releases the jobs.
 */
async function deliverHandoff(deps: Deps, handoff: FirstAttemptHandoff, slots?: EndpointSlots, options: BatchOptions = {}): Promise<void> {
  const owner = { jobIds: handoff.jobIds, lockedBy: handoff.poolId };
  if (handoff.attempts.length > 0) await deliverMessages(deps, handoff.attempts, slots, { ...options, owner });
  await removeHandedJobs(deps.sql, handoff.jobIds, handoff.poolId);
}

/**
 * Runs {@link deliverHandoff}s in the background of the process that committed them, at most `maxInFlight` at once:
 * a handoff beyond that, or one started while stopping, is released to any worker (its jobs unlocked), so a slow
 * endpoint cannot pile up work here. A failed one is logged and released too.
 */
export class HandoffDeliveries {
  private readonly running = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly deps: Deps,
    private readonly slots: EndpointSlots | undefined,
    private readonly options: BatchOptions & { maxInFlight: number },
  ) {}

  /** Starts delivering `handoff` (or releases its jobs to any worker); resolves once either has begun. Throws database errors of the release. */
  async start(handoff: FirstAttemptHandoff): Promise<void> {
    if (handoff.jobIds.length === 0) return;
    if (this.stopping || this.running.size >= this.options.maxInFlight) {
      await releaseHandedJobs(this.deps.sql, handoff.jobIds, handoff.poolId);
      return;
    }
    const run = deliverHandoff(this.deps, handoff, this.slots, this.options)
      .catch(async (err) => {
        this.deps.logger.warn({ err }, 'first attempts after processing failed; their jobs are released to any worker');
        await this.release(handoff);
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /**
   * Releases a failed handoff's jobs; the database that failed it may be failing still (a restart, a failover), so
   * it tries again every second, {@link RELEASE_TRIES} times in all, before leaving them to the recovery sweep.
   */
  private async release(handoff: FirstAttemptHandoff): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await releaseHandedJobs(this.deps.sql, handoff.jobIds, handoff.poolId);
        return;
      } catch {
        if (i >= RELEASE_TRIES || this.stopping) return; // recovery unlocks them
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** Resolves once the handoffs running now have ended (delivered, or released); later ones are not waited for. */
  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }

  /** Takes no new handoff and waits for those running (they stop starting attempts at their budget). */
  async stop(): Promise<void> {
    this.stopping = true;
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
