// (node) The `deliver_operator_event` task: one operational webhook to SWITCHYARD_OPERATOR_WEBHOOK_URL, signed as
// merchant deliveries are, through the same SSRF-guarded dispatcher.
import type { Deps } from '../core/deps.js';
import { loadPendingOperatorEvent, recordOperatorAttempt } from '../core/events/operator-event-store.js';
import { classifyStatus } from './backoff.js';
import { dispatch } from './dispatcher.js';
import { signMessage } from './sign.js';

/** Sent as `user-agent` (as merchant deliveries). */
const USER_AGENT = 'Switchyard/0.1.0';

/** A failed attempt of an operational webhook; graphile-worker retries the job with its backoff. */
export class OperatorWebhookFailed extends Error {
  constructor(reason: string) {
    super(`operational webhook not delivered: ${reason}`);
    this.name = 'OperatorWebhookFailed';
  }
}

/**
 * Delivers operational event `operatorEventId` (`webhook-id` its `oev_…` id, signed with
 * SWITCHYARD_OPERATOR_WEBHOOK_SECRET): a 2xx records it delivered; anything else is recorded and thrown as
 * {@link OperatorWebhookFailed} so graphile-worker retries, except on attempt `attempt` = `maxAttempts`, which records it
 * failed for good. Nothing is sent when it is no longer pending or the URL is unset.
 */
export async function deliverOperatorEvent(deps: Deps, job: { operatorEventId: string }, attempt = 1, maxAttempts = 1): Promise<void> {
  const { config, sql } = deps;
  const url = config.SWITCHYARD_OPERATOR_WEBHOOK_URL;
  const secret = config.SWITCHYARD_OPERATOR_WEBHOOK_SECRET;
  if (url === undefined || secret === undefined) return;
  const event = await loadPendingOperatorEvent(sql, job.operatorEventId);
  if (!event) return;
  const at = deps.clock();
  const signed = await signMessage({ msgId: event.id, timestamp: Math.floor(at.getTime() / 1000), body: event.payload, secrets: [secret] });
  const outcome = await dispatch({
    url,
    headers: { ...signed, 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: event.payload,
    timeoutMs: config.SWITCHYARD_DELIVERY_TIMEOUT_MS,
    maxResponseBytes: 1024,
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
  });
  const delivered = outcome.kind === 'response' && classifyStatus(outcome.status) === 'success';
  const error = delivered ? null : outcome.kind === 'response' ? `answered ${outcome.status}` : outcome.error;
  await recordOperatorAttempt(sql, { id: event.id, delivered, error, final: !delivered && attempt >= maxAttempts, at });
  if (!delivered) {
    deps.logger.warn({ operatorEventId: event.id, attempt, error }, 'operational webhook not delivered');
    if (attempt < maxAttempts) throw new OperatorWebhookFailed(error!);
  }
}
