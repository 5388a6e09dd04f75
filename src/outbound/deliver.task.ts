// (node) One delivery attempt per job: sign → POST → record the attempt → schedule the next.
import type { Deps, DisableReason } from '../core/http/env.js';
import { classifyStatus, parseRetryAfterMs, retryDelayMs, type ResponseClass } from './backoff.js';
import { dispatch, type DispatchOutcome } from './dispatcher.js';
import { failMessage, loadDelivery, lockUncountedAttempt, postponeAttempt, recordAttempt, type AttemptRecord, type DeliveryRow } from './delivery-store.js';
import type { EndpointSlots } from './endpoint-slots.js';
import { admitAttempt, disableEndpointFor, recordAttemptHealth, type HealthPolicy } from './endpoint-health.js';
import { emitEvent, enqueueDelivery } from './messages.js';
import { signMessage } from './sign.js';

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

/**
 * Makes attempt number `attempt` (1-based) of delivering message `messageId`, per
 * CONTRACT.md "Outbound webhooks": Standard Webhooks signature with every active secret
 * over the stored bytes, POST with the configured timeout (15 s) and no redirects, then in
 * one transaction records the attempt and either marks the message succeeded (2xx),
 * fails it and disables the endpoint (410), or queues the next attempt after the retry
 * schedule's delay (±20 % jitter; a throttling answer's `Retry-After` is honoured when
 * longer), failing the message once the schedule is exhausted.
 *
 * Endpoint health (src/outbound/endpoint-health.ts): while the endpoint's circuit is open,
 * or its rateLimitPerSecond is used up, the attempt is put off unsent and uncounted. Each
 * outcome updates the failure streak; an endpoint failing every attempt for
 * SWITCHYARD_DISABLE_AFTER_SECONDS (5 days), or answering 410, is disabled and an
 * `endpoint.disabled` event goes to the merchant's other endpoints.
 *
 * Metrics (`deps.metrics`): every attempt sent is reported with its outcome (the response
 * class, or `error` when no response came) and its duration in seconds; an endpoint this
 * attempt disabled is reported after the commit. Put-off attempts are not reported.
 *
 * Idempotent: a job that runs again for an attempt already recorded (a crash after the
 * commit) does nothing; one that crashed before the commit sends again (at least once).
 * Throws only on infrastructure errors (the database), so graphile-worker retries the job.
 */
export async function deliverMessage(
  deps: Deps,
  job: { messageId: string; attempt: number },
  slots?: EndpointSlots,
): Promise<void> {
  const { sql, clock, config } = deps;
  const policy: HealthPolicy = {
    circuitFailures: config.SWITCHYARD_CIRCUIT_FAILURES,
    circuitCooldownSeconds: config.SWITCHYARD_CIRCUIT_COOLDOWN_SECONDS,
    disableAfterSeconds: config.SWITCHYARD_DISABLE_AFTER_SECONDS,
  };
  const now = clock();
  const m = await loadDelivery(sql, job.messageId, now);
  if (!m || m.status !== 'pending' || m.attempts >= job.attempt) return;
  if (m.endpoint_status !== 'enabled') {
    await failMessage(sql, m.id);
    return;
  }

  // Not now: the same attempt at `at` plus up to `jitterMs`; nothing is sent or counted.
  const putOff = (at: number, jitterMs: number) =>
    sql.begin((tx) =>
      postponeAttempt(tx, {
        messageId: m.id,
        endpointId: m.endpoint_id,
        attempt: job.attempt,
        retryAt: new Date(at + Math.floor(Math.random() * jitterMs)),
      }),
    );

  const admitted = await admitAttempt(
    sql,
    { id: m.endpoint_id, circuitOpenUntil: m.circuit_open_until, rateLimitPerSecond: m.rate_limit_per_second },
    now,
    policy,
  );
  if (admitted !== 'go') return putOff(admitted.retryAt.getTime(), 250); // open circuit, or the rate limit

  const release = slots ? await slots.acquire(m.endpoint_id, m.max_in_flight) : () => {};
  if (!release) {
    // The endpoint already has max_in_flight deliveries from this process (slow or hanging):
    // come back later rather than hold a worker.
    const waitMs = Math.min(5000, Math.ceil(config.SWITCHYARD_DELIVERY_TIMEOUT_MS / 3));
    return putOff(now.getTime() + waitMs / 2, waitMs / 2);
  }
  try {
    await attempt(deps, job, m, clock(), policy);
  } finally {
    release();
  }
}

async function attempt(
  deps: Deps,
  job: { messageId: string; attempt: number },
  m: DeliveryRow,
  now: Date,
  policy: HealthPolicy,
): Promise<void> {
  const { sql, config, secretBox, logger } = deps;
  const attemptedAt = now;
  const secrets = await Promise.all(m.secret_envelopes.map((e) => secretBox.decrypt(e)));
  const signed = await signMessage({
    msgId: m.id,
    timestamp: Math.floor(attemptedAt.getTime() / 1000),
    body: m.payload,
    secrets,
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
  // Counted once sent, whatever happens to the bookkeeping below: the endpoint saw it.
  deps.metrics?.delivery(outcome.kind === 'response' ? verdict : 'error', outcome.durationMs / 1000);
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
        await enqueueDelivery(tx, { messageId: m.id, endpointId: m.endpoint_id, attempt: job.attempt + 1, runAt: nextAttemptAt });
      }
    });
    if (disabled) deps.metrics?.endpointDisabled(disabled); // after the commit: only disables that happened
  }
  logger.info(
    {
      messageId: m.id,
      endpointId: m.endpoint_id,
      attempt: job.attempt,
      outcome: outcome.kind === 'response' ? outcome.status : outcome.error,
      durationMs: outcome.durationMs,
      nextAttemptAt,
    },
    succeeded ? 'delivered' : 'delivery failed',
  );
}
