// (node) Delivery attempts, one or a batch per job: load → sign → POST → record the attempts → schedule the next.
import type { Deps, DisableReason } from '../core/deps.js';
import { classifyStatus, parseRetryAfterMs, retryDelayMs, type ResponseClass } from './backoff.js';
import { dispatch, type DispatchOutcome } from './dispatcher.js';
import {
  failMessages,
  holdEndpoint,
  loadDeliveries,
  lockUncountedAttempt,
  postponeAttempts,
  recordAttempt,
  recordSuccesses,
  type AttemptRecord,
  type DeliveryRow,
  type SuccessRecord,
} from './delivery-store.js';
import type { EndpointSlots } from './endpoint-slots.js';
import { admitAttempt, disableEndpointFor, recordAttemptHealth, type HealthPolicy } from './endpoint-health.js';
import { emitEvent } from '../core/events/outbox.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import { enqueueDeliveries, enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { importEd25519PrivateKey, signMessage } from './sign.js';
import type { CryptoKey } from '../core/crypto.js';
import { SecretUnreadableError } from '../core/secrets.js';

/** Sent as `user-agent` on every delivery (CONTRACT.md "Outbound webhooks"). */
export const USER_AGENT = 'Switchyard/0.1.0';
/** Response bytes read from an endpoint at most; the rest is discarded. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Response bytes kept on an attempt row (CONTRACT.md: first 4 KiB). */
export const STORED_RESPONSE_BYTES = 4 * 1024;
/** Longest `Retry-After` honoured, ms (a day); a longer one is clamped. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

function truncateUtf8(s: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.byteLength <= maxBytes) return s;
  // stream mode holds back a cut multi-byte character instead of emitting a 3-byte U+FFFD
  return new TextDecoder('utf-8').decode(bytes.subarray(0, maxBytes), { stream: true });
}

/** Attempts loaded and delivered together at most (one load query, one record statement per flush). */
export const BATCH_CHUNK = 100;
/** A message held back on an ordered endpoint is looked at again this long after its predecessor's next attempt, ms. */
const ORDERED_RECHECK_MS = 500;
/** How long a batch's attempt waits for a slot of a fast endpoint (EndpointSlots), ms. */
const BATCH_SLOT_WAIT_MS = 2_000;
/** Successful attempts recorded together at most (one statement). */
const SUCCESS_FLUSH = 50;

/** Options of {@link deliverMessages}. */
export interface BatchOptions {
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
 * `messageId`) per CONTRACT.md "Outbound webhooks": Standard Webhooks signature with every
 * active secret over the stored bytes, POST with the configured timeout (15 s) and no
 * redirects, then records the attempt and either marks the message succeeded (2xx), fails
 * it and disables the endpoint (410), or queues the next attempt after the retry
 * schedule's delay (±20 % jitter; a throttling answer's `Retry-After` is honoured when
 * longer), failing the message once the schedule is exhausted. Each attempt keeps its
 * message's id as `webhook-id`.
 *
 * Batched for throughput: the messages are loaded in chunks of {@link BATCH_CHUNK} with
 * ONE query; the attempts to one endpoint go out in parallel up to its `max_in_flight`
 * (through `slots`, shared by the process's jobs); successes on an endpoint with no failure
 * streak and no open circuit are recorded {@link SUCCESS_FLUSH} at a time in ONE statement
 * (nothing about the endpoint changes); every other outcome is recorded on its own, in a
 * transaction that also updates the endpoint's health, as before.
 *
 * Endpoint health (src/outbound/endpoint-health.ts): while the endpoint's circuit is open
 * the attempts are put off unsent and uncounted (one batch job); once its cool-down has
 * passed one attempt claims the probe and the others wait for its outcome; with a
 * rateLimitPerSecond each attempt is admitted one at a time, and once one is put off the
 * rest of the batch follows it in one job. When an endpoint
 * already has `max_in_flight` deliveries from this process and is slow (EndpointSlots),
 * the attempts not yet sent are put off a few seconds rather than holding a worker. On an
 * `ordered` endpoint, a message whose payment has an older message to the endpoint still
 * pending is put off (unsent, uncounted) until just after that message's next attempt, so
 * a payment's events arrive in order. Each
 * outcome updates the failure streak; an endpoint failing every attempt for
 * SWITCHYARD_DISABLE_AFTER_SECONDS (5 days), or answering 410, is disabled and an
 * `endpoint.disabled` event goes to the merchant's other endpoints. A message whose
 * endpoint is no longer enabled is failed unsent.
 *
 * Metrics (`deps.metrics`): every attempt sent is reported with its outcome (the response
 * class, or `error` when no response came) and its duration in seconds; an endpoint an
 * attempt disabled is reported after the commit. Put-off attempts are not reported.
 *
 * Idempotent: an attempt already recorded (a job that runs again after a crash after the
 * commit, or a duplicate entry) sends nothing; one whose job crashed before the commit
 * sends again (at least once). Throws only on infrastructure errors (the database), so
 * graphile-worker retries the job; attempts recorded before the error are then skipped.
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
    const byEndpoint = new Map<string, Item[]>();
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

interface Item {
  job: DeliveryJob;
  m: DeliveryRow;
}

/** Delivers `items` (all to one endpoint, loaded together); returns those not started before `deadline`. */
async function deliverToEndpoint(
  deps: Deps,
  items: Item[],
  slots: EndpointSlots | undefined,
  policy: HealthPolicy,
  deadline: number,
): Promise<DeliveryJob[]> {
  const { sql, clock, config } = deps;
  const ep = items[0]!.m;
  const now = clock();
  if (ep.endpoint_status !== 'enabled') {
    await failMessages(sql, items.map((i) => i.m.id));
    return [];
  }
  // Not now: the attempts at `at` plus up to `jitterMs`; nothing is sent or counted. With
  // `hold` (the endpoint is slow), its new messages are held until `at` too (held_until).
  const putOff = (rest: readonly Item[], at: number, jitterMs: number, hold = false) =>
    sql.begin(async (tx) => {
      await postponeAttempts(tx, {
        endpointId: ep.endpoint_id,
        attempts: rest.map((i) => ({ messageId: i.m.id, attempt: i.job.attempt })),
        retryAt: new Date(at + Math.floor(Math.random() * jitterMs)),
      });
      if (hold) await holdEndpoint(tx, ep.endpoint_id, new Date(at));
    });
  // Ordered endpoint: a message whose payment has an older message still pending waits
  // for that one's next attempt (and is looked at again then).
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
    if (successes.length > 0) flushes.push(recordSuccesses(sql, successes.splice(0)));
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
        // Over the limit (or slow): the rest follow the first one put off, in one job.
        if (put && queue.length > 0) await putOff(queue.splice(0), put.at, put.jitterMs);
        continue;
      }
      // A batch waits longer than a single attempt for a slot of a fast endpoint: the other
      // jobs to the same endpoint hold them for milliseconds each.
      const release = slots ? await slots.acquire(ep.endpoint_id, ep.max_in_flight, BATCH_SLOT_WAIT_MS) : () => {};
      if (!release) {
        // The endpoint already has max_in_flight deliveries from this process and is slow
        // (or hanging), or as many attempts wait for it as it has slots: come back later
        // rather than hold a worker.
        slow = true;
        const rest = [item, ...queue.splice(0)];
        const { at, jitterMs, slow: hold } = comeBack(slots!, ep.endpoint_id, config.SWITCHYARD_DELIVERY_TIMEOUT_MS, clock().getTime());
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
          // The endpoint is failing: what is not yet sent goes to a new job, which reloads
          // the endpoint's state (its circuit may open now) instead of hammering it.
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
 * One attempt through the endpoint's gate (open circuit's probe, rate limit) and slot, as a
 * single job makes it. Returns undefined when it was sent and recorded, or when and with what
 * jitter it was put off.
 */
async function deliverGated(
  deps: Deps,
  item: Item,
  slots: EndpointSlots | undefined,
  policy: HealthPolicy,
  putOff: (rest: readonly Item[], at: number, jitterMs: number, hold?: boolean) => Promise<void>,
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
    const { at, jitterMs, slow } = comeBack(slots!, m.endpoint_id, config.SWITCHYARD_DELIVERY_TIMEOUT_MS, now.getTime());
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
 * When attempts that EndpointSlots turned away come back (ms since the epoch, plus up to
 * `jitterMs`): for a slow or hanging endpoint, in a sixth to a third of the delivery
 * timeout (at most 2.5–5 s), so it is not hammered; for one that was only busy, in 100–200 ms.
 */
function comeBack(slots: EndpointSlots, endpointId: string, timeoutMs: number, nowMs: number): { at: number; jitterMs: number; slow: boolean } {
  if (!slots.isSlowNow(endpointId)) return { at: nowMs + 100, jitterMs: 100, slow: false };
  const waitMs = Math.min(5000, Math.ceil(timeoutMs / 3));
  return { at: nowMs + waitMs / 2, jitterMs: waitMs / 2, slow: true };
}

/** What signs a delivery: the endpoint's `whsec_` secrets and, when it signs `v1a` too, its Ed25519 key. */
interface SigningKeys {
  secrets: string[];
  ed25519Keys: CryptoKey[];
}

/**
 * The signing keys of a loaded message's endpoint, decrypted (and imported). Throws a
 * SecretUnreadableError, logged at error with the endpoint, when the master key cannot
 * open them: the job fails, and the log says why rather than a bare OperationError.
 */
async function decryptSecrets(deps: Deps, m: DeliveryRow): Promise<SigningKeys> {
  try {
    const [secrets, ed25519Keys] = await Promise.all([
      Promise.all(m.secret_envelopes.map((e) => deps.secretBox.decrypt(e))),
      m.ed25519_envelope ? deps.secretBox.decrypt(m.ed25519_envelope).then(async (k) => [await importEd25519PrivateKey(k)]) : [],
    ]);
    return { secrets, ed25519Keys };
  } catch (error) {
    if (error instanceof SecretUnreadableError) deps.logger.error({ err: error, endpointId: m.endpoint_id }, error.message);
    throw error;
  }
}

/** What one attempt got, and when it was made. */
interface Sent {
  outcome: DispatchOutcome;
  verdict: ResponseClass;
  attemptedAt: Date;
}

/** Signs and POSTs one attempt; reports it to the metrics. Never throws for the endpoint's failures. */
async function send(deps: Deps, m: DeliveryRow, now: Date, secrets?: Promise<SigningKeys>): Promise<Sent> {
  const { config } = deps;
  const attemptedAt = now;
  const signing = await (secrets ?? decryptSecrets(deps, m));
  const signed = await signMessage({
    msgId: m.id,
    timestamp: Math.floor(attemptedAt.getTime() / 1000),
    body: m.payload,
    secrets: signing.secrets,
    ed25519Keys: signing.ed25519Keys,
    // node:crypto's HMAC when the process lends it: the same bytes, without a thread-pool job per signature
    ...(deps.hmac ? { hmacSha256: (key: Uint8Array, data: Uint8Array) => deps.hmac!.hmac('SHA-256', key, data) } : {}),
  });
  const outcome: DispatchOutcome = await dispatch({
    url: m.url,
    headers: { ...signed, 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: m.payload,
    timeoutMs: config.SWITCHYARD_DELIVERY_TIMEOUT_MS,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
  });
  const verdict: ResponseClass = outcome.kind === 'response' ? classifyStatus(outcome.status) : 'retry';
  // Counted once sent, whatever happens to the bookkeeping: the endpoint saw it.
  deps.metrics?.delivery(outcome.kind === 'response' ? verdict : 'error', outcome.durationMs / 1000);
  return { outcome, verdict, attemptedAt };
}

function logOutcome(deps: Deps, item: Item, sent: Sent, nextAttemptAt: Date | null): void {
  const { outcome } = sent;
  deps.logger.info(
    {
      messageId: item.m.id,
      endpointId: item.m.endpoint_id,
      attempt: item.job.attempt,
      outcome: outcome.kind === 'response' ? outcome.status : outcome.error,
      durationMs: outcome.durationMs,
      nextAttemptAt,
    },
    sent.verdict === 'success' ? 'delivered' : 'delivery failed',
  );
}

/** Records one attempt's outcome with the endpoint's health, the retry or the disabling it causes. */
async function recordOutcome(deps: Deps, item: Item, sent: Sent, policy: HealthPolicy): Promise<void> {
  const { sql, config } = deps;
  const { job, m } = item;
  const { outcome, verdict, attemptedAt } = sent;
  let nextAttemptAt: Date | null = null;
  if (verdict === 'retry' || verdict === 'throttle') {
    const scheduled = retryDelayMs(job.attempt, config.retryScheduleSeconds);
    if (scheduled !== undefined) {
      const retryAfter =
        verdict === 'throttle' && outcome.kind === 'response'
          ? parseRetryAfterMs(outcome.headers['retry-after'], attemptedAt, MAX_RETRY_AFTER_MS)
          : undefined;
      nextAttemptAt = new Date(attemptedAt.getTime() + Math.max(scheduled, retryAfter ?? 0));
    }
  }
  const succeeded = verdict === 'success';

  const record = (messageStatus: AttemptRecord['messageStatus']): AttemptRecord => ({
    messageId: m.id,
    eventId: m.event_id,
    endpointId: m.endpoint_id,
    attempt: job.attempt,
    succeeded,
    responseStatus: outcome.kind === 'response' ? outcome.status : null,
    responseBody: outcome.kind === 'response' ? truncateUtf8(outcome.body, STORED_RESPONSE_BYTES) : null,
    error: outcome.kind === 'error' ? outcome.error : null,
    durationMs: outcome.durationMs,
    attemptedAt,
    nextAttemptAt,
    messageStatus,
  });

  const healthy = m.consecutive_failures === 0 && m.failing_since === null && m.circuit_open_until === null;
  if (succeeded && healthy) {
    // The common case in one statement: nothing about the endpoint changes.
    await recordAttempt(sql, record('succeeded'));
  } else {
    let disabled: DisableReason | undefined;
    await sql.begin(async (tx) => {
      if (!(await lockUncountedAttempt(tx, m.id, job.attempt))) return;
      const health = await recordAttemptHealth(tx, m.endpoint_id, succeeded, attemptedAt, policy);
      const disableReason =
        verdict === 'gone'
          ? 'the endpoint answered 410 Gone'
          : health === 'disable'
            ? `every attempt has failed since ${m.failing_since?.toISOString() ?? attemptedAt.toISOString()}`
            : undefined;
      if (disableReason) nextAttemptAt = null;
      await recordAttempt(tx, record(succeeded ? 'succeeded' : nextAttemptAt ? 'pending' : 'failed'));
      if (disableReason && (await disableEndpointFor(tx, m.endpoint_id, disableReason))) {
        disabled = verdict === 'gone' ? 'gone' : 'failing';
        // CONTRACT.md: the merchant hears of it on its other endpoints.
        await emitEvent(tx, {
          merchantId: m.merchant_id,
          type: 'endpoint.disabled',
          paymentId: null,
          dedupeKey: `endpoint.disabled:${m.endpoint_id}:${attemptedAt.toISOString()}`,
          data: { endpointId: m.endpoint_id, url: m.url, reason: disableReason, disabledAt: attemptedAt.toISOString() },
          at: attemptedAt,
        });
      }
      if (nextAttemptAt) {
        await enqueueDeliveries(tx, [{ messageId: m.id, attempt: job.attempt + 1, runAt: nextAttemptAt }]);
      }
    });
    if (disabled) deps.metrics?.endpointDisabled(disabled); // after the commit: only disables that happened
  }
  logOutcome(deps, item, sent, nextAttemptAt);
}
