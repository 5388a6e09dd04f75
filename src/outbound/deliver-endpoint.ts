// (node) One endpoint's share of a delivery batch: its gates (status, order, circuit, rate limit, slots) and its lanes.
import type { Deps } from '../core/deps.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import type { DeliveryJobOwner } from '../core/jobs/job-store.js';
import { decryptSecrets, send, type DeliveryItem, type Sent } from './deliver-attempt.js';
import type { DeliveryRow } from './delivery-store.js';
import { logOutcome, recordOutcome, STORED_RESPONSE_BYTES, truncateUtf8 } from './deliver-outcome.js';
import { failMessages, holdEndpoint, postponeAttempts, recordSuccesses, type SuccessRecord } from './delivery-store.js';
import { admitAttempt, type HealthPolicy } from './endpoint-health.js';
import type { EndpointSlots } from './endpoint-slots.js';

/** A message held back on an ordered endpoint is looked at again this long after its predecessor's next attempt, ms. */
const ORDERED_RECHECK_MS = 500;
/** How long a batch's attempt waits for a slot of a fast endpoint (EndpointSlots), ms. */
const BATCH_SLOT_WAIT_MS = 2_000;
/** Successful attempts recorded together at most (one statement). */
const SUCCESS_FLUSH = 50;

/** Puts attempts off to `at` ms since the epoch plus up to `jitterMs`; with `hold`, the endpoint's new messages too. */
type PutOff = (rest: readonly DeliveryItem[], at: number, jitterMs: number, hold?: boolean) => Promise<void>;

/**
 * Delivers `items` (all to one endpoint, loaded together). A disabled or deleted endpoint's messages fail unsent.
 * Put off unsent and uncounted: an `ordered` message whose payment has an older one pending (until just after
 * that one's next attempt); all while the circuit is open; all but the probe after the cool-down; the unsent
 * rest when a slow endpoint's slots are taken (EndpointSlots), rather than hold a worker. Otherwise up to
 * `max_in_flight` lanes send (one, admitting each attempt, under a rate limit). Successes on an endpoint with no
 * failure streak are recorded {@link SUCCESS_FLUSH} per statement, other outcomes one by one with its health.
 *
 * @param owner the jobs the attempts came from, held by this run: attempts put off leave them (postponeAttempts)
 * @returns The jobs not started before `deadline` (epoch ms) or left after a failure, for a new job that
 *   reloads the endpoint's state.
 */
export async function deliverToEndpoint(
  deps: Deps,
  items: DeliveryItem[],
  slots: EndpointSlots | undefined,
  policy: HealthPolicy,
  deadline: number,
  owner?: DeliveryJobOwner,
): Promise<DeliveryJob[]> {
  const { sql, clock, config } = deps;
  const ep = items[0]!.m;
  const now = clock();
  if (ep.endpoint_status !== 'enabled') {
    await failMessages(
      sql,
      items.map((i) => i.m.id),
    );
    return [];
  }
  const putOff: PutOff = (rest, at, jitterMs, hold = false) =>
    sql.begin(async (tx) => {
      await postponeAttempts(tx, {
        endpointId: ep.endpoint_id,
        attempts: rest.map((i) => ({ messageId: i.m.id, attempt: i.job.attempt })),
        retryAt: new Date(at + Math.floor(Math.random() * jitterMs)),
        owner,
      });
      if (hold) await holdEndpoint(tx, ep.endpoint_id, new Date(at));
    });
  const waiting = items.filter((i) => i.m.waits);
  if (waiting.length > 0) {
    const until = Math.max(now.getTime(), ...waiting.map((i) => i.m.waits_until?.getTime() ?? now.getTime()));
    await putOff(waiting, until + ORDERED_RECHECK_MS, 250);
    items = items.filter((i) => !i.m.waits);
    if (items.length === 0) return [];
  }
  if (ep.circuit_open_until && ep.circuit_open_until > now) {
    await putOff(items, ep.circuit_open_until.getTime(), 250);
    return [];
  }
  if (ep.circuit_open_until) {
    // The cool-down has passed: one attempt claims the probe; the others wait for its outcome.
    const [probe, ...rest] = items;
    if (rest.length > 0) await putOff(rest, now.getTime() + policy.circuitCooldownSeconds * 1000, 250);
    await deliverGated(deps, probe!, slots, policy, putOff);
    return [];
  }

  const healthy = ep.consecutive_failures === 0 && ep.failing_since === null;
  // Loaded together, so the same secrets: decrypted once for the batch.
  const secrets = decryptSecrets(deps, ep);
  secrets.catch(() => {}); // a failure surfaces in send()
  const queue = [...items];
  const left: DeliveryJob[] = [];
  const successes: SuccessRecord[] = [];
  const flushes: Promise<unknown>[] = [];
  const flush = () => {
    if (successes.length === 0) return;
    const recorded = recordSuccesses(sql, successes.splice(0));
    // Awaited once the lanes end; a failure before then (the database going away) must not be an unhandled rejection.
    recorded.catch(() => {});
    flushes.push(recorded);
  };
  let slow = false;
  let stopped = false;
  const lane = async (): Promise<void> => {
    for (;;) {
      if (slow || stopped) return;
      const item = queue.shift();
      if (!item) return;
      if (Date.now() >= deadline) {
        left.push(item.job, ...queue.splice(0).map((i) => i.job));
        return;
      }
      if (ep.rate_limit_per_second !== null) {
        const put = await deliverGated(deps, item, slots, policy, putOff);
        // Over the limit (or slow): the rest follow the first one put off.
        if (put && queue.length > 0) await putOff(queue.splice(0), put.at, put.jitterMs);
        continue;
      }
      // A batch waits longer than a single attempt for a slot of a fast endpoint: the other
      // jobs to the same endpoint hold them for milliseconds each.
      const release = slots ? await slots.acquire(ep.endpoint_id, ep.max_in_flight, BATCH_SLOT_WAIT_MS) : () => {};
      if (!release) {
        // Slow, or as many attempts waiting as it has slots: come back later rather than hold a worker.
        slow = true;
        const rest = [item, ...queue.splice(0)];
        const { at, jitterMs, slow: hold } = comeBack(slots!, ep, config.SWITCHYARD_DELIVERY_TIMEOUT_MS, clock().getTime());
        await putOff(rest, at, jitterMs, hold);
        return;
      }
      let sent: Sent;
      try {
        sent = await send(deps, item.m, clock(), secrets);
      } finally {
        release();
      }
      if (sent.verdict === 'success' && healthy && sent.outcome.kind === 'response') {
        successes.push({
          messageId: item.m.id,
          attempt: item.job.attempt,
          responseStatus: sent.outcome.status,
          responseBody: truncateUtf8(sent.outcome.body, STORED_RESPONSE_BYTES),
          durationMs: sent.outcome.durationMs,
          attemptedAt: sent.attemptedAt,
        });
        logOutcome(deps, item, sent, null);
        if (successes.length >= SUCCESS_FLUSH) flush();
      } else {
        if (sent.verdict !== 'success') {
          // Failing: the unsent go to a new job, which reloads the endpoint's state (its circuit may open).
          stopped = true;
          left.push(...queue.splice(0).map((i) => i.job));
        }
        // A failure, or a success that ends a failure streak: recorded with the endpoint's health.
        await recordOutcome(deps, item, sent, policy);
      }
    }
  };
  const lanes = ep.rate_limit_per_second !== null ? 1 : Math.max(1, Math.min(ep.max_in_flight, items.length));
  const results = await Promise.allSettled(Array.from({ length: lanes }, lane));
  flush();
  const recorded = await Promise.allSettled(flushes);
  for (const r of [...results, ...recorded]) if (r.status === 'rejected') throw r.reason;
  return left;
}

/**
 * One attempt through the endpoint's gate (circuit probe, rate limit) and a slot. Returns undefined when it was
 * sent and recorded, else when (epoch ms) and with what jitter it was put off.
 */
async function deliverGated(
  deps: Deps,
  item: DeliveryItem,
  slots: EndpointSlots | undefined,
  policy: HealthPolicy,
  putOff: PutOff,
): Promise<{ at: number; jitterMs: number } | undefined> {
  const { sql, clock, config } = deps;
  const { m } = item;
  const now = clock();
  const admitted = await admitAttempt(
    sql,
    { id: m.endpoint_id, circuitOpenUntil: m.circuit_open_until, rateLimitPerSecond: m.rate_limit_per_second },
    now,
    policy,
  );
  const later = async (at: number, jitterMs: number, hold = false) => {
    await putOff([item], at, jitterMs, hold);
    return { at, jitterMs };
  };
  if (admitted !== 'go') return later(admitted.retryAt.getTime(), 250); // open circuit, or the rate limit
  const release = slots ? await slots.acquire(m.endpoint_id, m.max_in_flight) : () => {};
  if (!release) {
    const { at, jitterMs, slow } = comeBack(slots!, m, config.SWITCHYARD_DELIVERY_TIMEOUT_MS, now.getTime());
    return later(at, jitterMs, slow);
  }
  let sent: Sent;
  try {
    sent = await send(deps, m, clock());
  } finally {
    release();
  }
  await recordOutcome(deps, item, sent, policy);
  return undefined;
}

/**
 * When attempts EndpointSlots turned away come back (epoch ms, plus up to `jitterMs`): for a slow or hanging
 * endpoint, in a sixth to a third of the delivery timeout (at most 2.5–5 s); for one only busy, in 100–200 ms.
 * Slow as this process sees it, or held (`held_until` as loaded) by any process: one whose attempts hang holds
 * the endpoint's slots, which another process is then turned away from without ever seeing an attempt hang.
 */
function comeBack(
  slots: EndpointSlots,
  ep: Pick<DeliveryRow, 'endpoint_id' | 'held_until'>,
  timeoutMs: number,
  nowMs: number,
): { at: number; jitterMs: number; slow: boolean } {
  const held = ep.held_until !== null && ep.held_until.getTime() > nowMs;
  if (!held && !slots.isSlowNow(ep.endpoint_id)) return { at: nowMs + 100, jitterMs: 100, slow: false };
  const waitMs = Math.min(5000, Math.ceil(timeoutMs / 3));
  return { at: nowMs + waitMs / 2, jitterMs: waitMs / 2, slow: true };
}
