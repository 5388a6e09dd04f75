// What an attempt's outcome does: the retry it schedules, the endpoint's health, the disabling.
import type { Deps, DisableReason } from '../core/deps.js';
import { emitOperatorEvent } from '../core/events/operator-event-store.js';
import { emitEvent } from '../core/events/outbox.js';
import { enqueueDeliveries } from '../core/jobs/enqueue.js';
import type { z } from 'zod';
import { parseRetryAfterMs, retryDelayMs } from './backoff.js';
import type { DeliveryItem, Sent } from './deliver-attempt.js';
import { lockUncountedAttempt, recordAttempt, type AttemptRecord } from './delivery-store.js';
import { recordAttemptHealth, type HealthPolicy } from './endpoint-health.js';
import { disableEndpointFor } from './endpoint-health-store.js';
import type { EndpointDisabledData } from './event-data.js';

/** Response bytes kept on an attempt row (docs/http-api.md: first 4 KiB). */
export const STORED_RESPONSE_BYTES = 4 * 1024;
/** Longest `Retry-After` honoured, ms (a day); a longer one is clamped. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/** The first `maxBytes` bytes of `s` as UTF-8, never ending in a cut character. */
export function truncateUtf8(s: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(s);
  if (bytes.byteLength <= maxBytes) return s;
  // stream mode holds back a cut multi-byte character instead of emitting a 3-byte U+FFFD
  return new TextDecoder('utf-8').decode(bytes.subarray(0, maxBytes), { stream: true });
}

/** The URL's origin, or undefined when it does not parse: its path or query may carry a secret, so logs show this only. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** Logs one attempt: `delivered` at info, `delivery failed` at warn with the endpoint's origin and the status or error; with the next attempt's time if any. */
export function logOutcome(deps: Deps, item: DeliveryItem, sent: Sent, nextAttemptAt: Date | null): void {
  const { outcome } = sent;
  const fields = {
    messageId: item.m.id,
    endpointId: item.m.endpoint_id,
    attempt: item.job.attempt,
    durationMs: outcome.durationMs,
    nextAttemptAt,
  };
  if (sent.verdict === 'success') {
    deps.logger.info({ ...fields, status: outcome.kind === 'response' ? outcome.status : undefined }, 'delivered');
    return;
  }
  deps.logger.warn(
    {
      ...fields,
      endpoint: originOf(item.m.url),
      status: outcome.kind === 'response' ? outcome.status : undefined,
      error: outcome.kind === 'response' ? undefined : outcome.error,
    },
    'delivery failed',
  );
}

/**
 * Records one attempt's outcome with the endpoint's health and the retry or disabling it causes (docs/http-api.md
 * "Outbound webhooks"). A retry waits the schedule's delay, or a throttling answer's `Retry-After` if longer (at
 * most a day); past the schedule the message fails. A 410, or SWITCHYARD_DISABLE_AFTER_SECONDS of failing every
 * attempt, disables the endpoint and emits `endpoint.disabled`. An attempt already recorded is skipped. Throws
 * only on database errors.
 */
export async function recordOutcome(deps: Deps, item: DeliveryItem, sent: Sent, policy: HealthPolicy): Promise<void> {
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
          : health.disable
            ? `every attempt has failed since ${m.failing_since?.toISOString() ?? attemptedAt.toISOString()}`
            : undefined;
      if (disableReason) nextAttemptAt = null;
      await recordAttempt(tx, record(succeeded ? 'succeeded' : nextAttemptAt ? 'pending' : 'failed'));
      if (disableReason && (await disableEndpointFor(tx, m.endpoint_id, disableReason))) {
        disabled = verdict === 'gone' ? 'gone' : 'failing';
        // docs/http-api.md: the merchant hears of it on its other endpoints.
        const data = {
          endpointId: m.endpoint_id,
          url: m.url,
          reason: disableReason,
          disabledAt: attemptedAt.toISOString(),
        } satisfies z.infer<typeof EndpointDisabledData>;
        const dedupeKey = `endpoint.disabled:${m.endpoint_id}:${attemptedAt.toISOString()}`;
        await emitEvent(tx, { merchantId: m.merchant_id, type: 'endpoint.disabled', paymentId: null, dedupeKey, data, at: attemptedAt });
        // The operator hears of every merchant's (README "Operational webhooks"), with the URL's origin only: its path or
        // query may carry the merchant's secret.
        const operatorData = { ...data, url: originOf(m.url) };
        await emitOperatorEvent(tx, config, {
          type: 'endpoint.disabled',
          merchantId: m.merchant_id,
          dedupeKey,
          data: operatorData,
          at: attemptedAt,
        });
      } else if (health.circuitOpened || health.recovered) {
        const type = health.circuitOpened ? 'endpoint.circuit_opened' : 'endpoint.recovered';
        await emitOperatorEvent(tx, config, {
          type,
          merchantId: m.merchant_id,
          dedupeKey: `${type}:${m.endpoint_id}:${attemptedAt.toISOString()}`,
          data: { endpointId: m.endpoint_id, url: originOf(m.url), at: attemptedAt.toISOString(), attempt: job.attempt },
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
