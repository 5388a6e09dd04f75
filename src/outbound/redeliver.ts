// Merchant and operator actions on delivery. Replays make new attempts, never new messages,
// so the receiver sees the same `webhook-id`.
import type { Tx } from '../core/db/client.js';
import { queueMessages, storeEvents, type EventToEmit } from '../core/events/outbox.js';
import { enqueueDeliveries, enqueueDeliveryBatches } from '../core/jobs/enqueue.js';
import { err, ok, type Result } from '../core/result.js';
import { lockEndpoint } from './endpoints/endpoint-store.js';
import { findEventMessage, reopenEventMessages, reopenFailedMessages, reopenMessage } from './redeliver-store.js';

/** Why a redelivery or a recovery was refused (the routes answer 404 or 409). */
export type RequeueRefusal = 'endpoint_not_found' | 'endpoint_disabled' | 'not_subscribed';

/**
 * Emits an event (`webhook.test`) to one endpoint only, whatever its `eventTypes`. The caller has checked that
 * the endpoint is the merchant's and enabled, and holds its row lock. Undefined when `dedupeKey` was used.
 */
export async function emitEventToEndpoint(
  tx: Tx,
  input: EventToEmit & { endpointId: string },
): Promise<{ eventId: string; messageId: string } | undefined> {
  const [eventId] = await storeEvents(tx, [input]);
  if (!eventId) return undefined;
  const [messageId] = await queueMessages(tx, [{ eventId, endpointId: input.endpointId, merchantId: input.merchantId, at: input.at }]);
  return { eventId, messageId: messageId! };
}

/**
 * Delivers an event again (`POST /v1/events/{id}/redeliver`); the caller has checked it is the merchant's. Its
 * messages to enabled endpoints, or only the one to `endpointId` (created now if missing and its `eventTypes` take
 * the type), are made pending with attempt `attempts + 1` queued now: past the retry schedule, that one only; an
 * attempt running meanwhile absorbs it. Refused: `endpoint_not_found` (not the merchant's, or deleted),
 * `endpoint_disabled`, `not_subscribed`.
 *
 * @returns The ids of the messages queued, oldest first (possibly none).
 */
export async function redeliverEvent(
  tx: Tx,
  input: { merchantId: string; event: { id: string; type: string }; endpointId?: string; at: Date },
): Promise<Result<string[], RequeueRefusal>> {
  const { merchantId, event, at } = input;
  if (input.endpointId === undefined) {
    const messages = await reopenEventMessages(tx, { merchantId, eventId: event.id, at });
    messages.sort((a, b) => (a.id < b.id ? -1 : 1));
    await enqueueDeliveries(
      tx,
      messages.map((m) => ({ messageId: m.id, attempt: m.attempts + 1 })),
    );
    return ok(messages.map((m) => m.id));
  }
  // Locked so that two redeliveries cannot both create the endpoint's first message.
  const ep = await lockEndpoint(tx, merchantId, input.endpointId);
  if (!ep) return err('endpoint_not_found');
  if (ep.status !== 'enabled') return err('endpoint_disabled');
  const existing = await findEventMessage(tx, { merchantId, eventId: event.id, endpointId: ep.id });
  if (existing) {
    const m = await reopenMessage(tx, { merchantId, messageId: existing, at });
    if (m) await enqueueDeliveries(tx, [{ messageId: m.id, attempt: m.attempts + 1 }]);
    return ok([existing]);
  }
  if (ep.eventTypes !== null && !ep.eventTypes.includes(event.type)) return err('not_subscribed');
  return ok(await queueMessages(tx, [{ eventId: event.id, endpointId: ep.id, merchantId, at }]));
}

/**
 * Recovers an endpoint after an outage (`POST /v1/endpoints/{id}/recover`): every `failed` message to it created at
 * or after `since` gets one more attempt, queued as batch jobs. Refused: `endpoint_not_found`, `endpoint_disabled`.
 *
 * @returns How many messages were queued.
 */
export async function recoverEndpointMessages(
  tx: Tx,
  input: { merchantId: string; endpointId: string; since: Date; at: Date },
): Promise<Result<number, RequeueRefusal>> {
  const ep = await lockEndpoint(tx, input.merchantId, input.endpointId);
  if (!ep) return err('endpoint_not_found');
  if (ep.status !== 'enabled') return err('endpoint_disabled');
  const messages = await reopenFailedMessages(tx, { merchantId: input.merchantId, endpointId: ep.id, since: input.since, at: input.at });
  messages.sort((a, b) => (a.id < b.id ? -1 : 1));
  await enqueueDeliveryBatches(
    tx,
    messages.map((m) => ({ messageId: m.id, attempt: m.attempts + 1 })),
  );
  return ok(messages.length);
}
