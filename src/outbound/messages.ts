import type { Tx } from '../core/db/client.js';
import { newId } from '../core/ids.js';
import { utf8 } from '../core/crypto.js';

/**
 * Emits a merchant-facing event (DESIGN.md "Merchant-facing events") inside the caller's
 * transaction: stores its body as the exact bytes that will be signed and sent
 * (`{"type", "timestamp", "data"}`, Standard Webhooks payload shape), then one message per
 * enabled endpoint subscribed to the type, each with a queued first delivery attempt.
 * `dedupeKey` makes a replay emit nothing: returns undefined when the event already exists.
 */
export async function emitEvent(
  tx: Tx,
  input: { merchantId: string; type: string; paymentId: string | null; dedupeKey: string; data: unknown; at: Date },
): Promise<{ eventId: string; messageIds: string[] } | undefined> {
  const eventId = await insertEvent(tx, input);
  if (!eventId) return undefined;
  const endpoints = await tx<{ id: string }[]>`
    select id from gw.endpoints
     where merchant_id = ${input.merchantId}
       and status = 'enabled'
       and (event_types is null or ${input.type} = any (event_types))
     order by id`;
  const messageIds: string[] = [];
  for (const ep of endpoints) {
    const messageId = await queueMessage(tx, { eventId, endpointId: ep.id, merchantId: input.merchantId, at: input.at });
    messageIds.push(messageId);
  }
  return { eventId, messageIds };
}

/**
 * Stores an event's body as the exact bytes that will be signed and sent; returns its id,
 * or undefined when (merchant, dedupeKey) already has one.
 */
async function insertEvent(
  tx: Tx,
  input: { merchantId: string; type: string; paymentId: string | null; dedupeKey: string; data: unknown; at: Date },
): Promise<string | undefined> {
  const eventId = newId('evt', input.at);
  const payload = utf8(JSON.stringify({ type: input.type, timestamp: input.at.toISOString(), data: input.data }));
  const inserted = await tx<{ id: string }[]>`
    insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, payload, created_at)
    values (${eventId}, ${input.merchantId}, ${input.type}, ${input.paymentId}, ${input.dedupeKey}, ${payload}, ${input.at})
    on conflict (merchant_id, dedupe_key) do nothing
    returning id`;
  return inserted.length === 0 ? undefined : eventId;
}

/** Inserts one message (event × endpoint) and queues its first delivery attempt. */
export async function queueMessage(
  tx: Tx,
  input: { eventId: string; endpointId: string; merchantId: string; at: Date },
): Promise<string> {
  const messageId = newId('msg', input.at);
  await tx`
    insert into gw.messages (id, event_id, endpoint_id, merchant_id, next_attempt_at)
    values (${messageId}, ${input.eventId}, ${input.endpointId}, ${input.merchantId}, ${input.at})`;
  await enqueueDelivery(tx, { messageId, endpointId: input.endpointId, attempt: 1 });
  return messageId;
}

/**
 * Queues attempt number `attempt` of a message, at `runAt` (default now). The job key
 * (message, attempt) makes queueing the same attempt twice a no-op replacement (or, from
 * inside the running job, a fresh job: graphile-worker clears the key of a locked job).
 * Jobs are not in named queues (graphile-worker runs a queue's jobs one at a time, which
 * cost two thirds of delivery throughput here); the per-endpoint cap is EndpointSlots'.
 *
 * Source: https://worker.graphile.org/docs/sql-add-job
 */
export async function enqueueDelivery(
  tx: Tx,
  input: { messageId: string; endpointId: string; attempt: number; runAt?: Date },
): Promise<void> {
  await tx`
    select graphile_worker.add_job(
      'deliver_message',
      ${tx.json({ messageId: input.messageId, attempt: input.attempt })}::json,
      run_at => ${input.runAt ?? null}::timestamptz,
      max_attempts => 25,
      job_key => ${`deliver:${input.messageId}:${input.attempt}`}::text)`;
}

/**
 * Emits an event to one endpoint only, inside the caller's transaction: the same event row
 * and payload bytes as {@link emitEvent} (`{"type", "timestamp", "data"}`), then one
 * message with its first attempt queued (`queueMessage`), whatever the endpoint's
 * `eventTypes` filter says. Used for `webhook.test` (CONTRACT.md "Endpoints",
 * `POST /v1/endpoints/{id}/test`). The caller has checked that the endpoint is the
 * merchant's and is enabled (and holds its row lock). Returns undefined when `dedupeKey`
 * was already used by this merchant.
 */
export async function emitEventToEndpoint(
  tx: Tx,
  input: { merchantId: string; endpointId: string; type: string; paymentId: string | null; dedupeKey: string; data: unknown; at: Date },
): Promise<{ eventId: string; messageId: string } | undefined> {
  const eventId = await insertEvent(tx, input);
  if (!eventId) return undefined;
  const messageId = await queueMessage(tx, { eventId, endpointId: input.endpointId, merchantId: input.merchantId, at: input.at });
  return { eventId, messageId };
}

/** Why a redelivery or a recovery was refused (the route maps these to 404 and 409). */
export type RequeueRefusal = 'endpoint_not_found' | 'endpoint_disabled' | 'not_subscribed';

/** The outcome of {@link redeliverEvent} and {@link recoverEndpointMessages}; shaped as core/result.ts `Result`. */
export type RequeueOutcome<T> = { ok: true; value: T } | { ok: false; error: RequeueRefusal };

/**
 * Makes one of the merchant's messages pending again, whatever its status, and queues ONE
 * more attempt numbered `attempts + 1` to run now (`enqueueDelivery`). The message keeps
 * its id, so the receiver sees the same `webhook-id` (STYLE habit 14: replays make new
 * attempts, never new messages). The update locks the row, so the number read is the one
 * the delivery task last committed.
 *
 * The delivery task schedules a retry by attempt number: a message still inside the retry
 * schedule resumes it if the new attempt fails; one already past it (8 attempts by
 * default) gets exactly this one attempt and is failed again if it fails. If an attempt of
 * the message is running at that moment, it absorbs the request: the queued job then finds
 * its number already recorded and sends nothing.
 *
 * @returns The attempt number queued, or undefined when the merchant has no such message.
 */
export async function requeueMessage(tx: Tx, input: { merchantId: string; messageId: string; at: Date }): Promise<number | undefined> {
  const [m] = await tx<{ id: string; endpoint_id: string; attempts: number }[]>`
    update gw.messages
       set status = 'pending', next_attempt_at = ${input.at}
     where id = ${input.messageId} and merchant_id = ${input.merchantId}
     returning id, endpoint_id, attempts`;
  if (!m) return undefined;
  await enqueueDelivery(tx, { messageId: m.id, endpointId: m.endpoint_id, attempt: m.attempts + 1 });
  return m.attempts + 1;
}

/**
 * Delivers an event again (`POST /v1/events/{id}/redeliver {"endpointId"?}`, CONTRACT.md
 * "Events and attempts") inside the caller's transaction; the caller has checked that the
 * event is the merchant's. Each message is requeued with {@link requeueMessage}: one more
 * attempt, same message and `webhook-id`, and exactly one attempt for a message past the
 * retry schedule.
 *
 * - Without `endpointId`: every message of the event whose endpoint is enabled (messages to
 *   disabled or deleted endpoints are left alone; an attempt would only fail them).
 * - With `endpointId`: that endpoint's message. If it has none (it was created, enabled or
 *   subscribed after the event) and its `eventTypes` take the event's type, its first
 *   message is created now (`queueMessage`). Refused with `endpoint_not_found` (not the
 *   merchant's, or deleted), `endpoint_disabled`, or `not_subscribed` (no message and the
 *   filter excludes the type).
 *
 * @returns The ids of the messages queued, oldest first (possibly none).
 */
export async function redeliverEvent(
  tx: Tx,
  input: { merchantId: string; event: { id: string; type: string }; endpointId?: string; at: Date },
): Promise<RequeueOutcome<string[]>> {
  const { merchantId, event, at } = input;
  if (input.endpointId === undefined) {
    const messages = await tx<{ id: string }[]>`
      select m.id
        from gw.messages m
        join gw.endpoints ep on ep.id = m.endpoint_id
       where m.event_id = ${event.id} and m.merchant_id = ${merchantId} and ep.status = 'enabled'
       order by m.id`;
    for (const m of messages) await requeueMessage(tx, { merchantId, messageId: m.id, at });
    return { ok: true, value: messages.map((m) => m.id) };
  }
  // Locked so that two redeliveries cannot both create the endpoint's first message.
  const [ep] = await tx<{ id: string; status: string; event_types: string[] | null }[]>`
    select id, status, event_types from gw.endpoints
     where id = ${input.endpointId} and merchant_id = ${merchantId} and status <> 'deleted'
       for update`;
  if (!ep) return { ok: false, error: 'endpoint_not_found' };
  if (ep.status !== 'enabled') return { ok: false, error: 'endpoint_disabled' };
  const [existing] = await tx<{ id: string }[]>`
    select id from gw.messages
     where event_id = ${event.id} and endpoint_id = ${ep.id} and merchant_id = ${merchantId}`;
  if (existing) {
    await requeueMessage(tx, { merchantId, messageId: existing.id, at });
    return { ok: true, value: [existing.id] };
  }
  if (ep.event_types !== null && !ep.event_types.includes(event.type)) return { ok: false, error: 'not_subscribed' };
  return { ok: true, value: [await queueMessage(tx, { eventId: event.id, endpointId: ep.id, merchantId, at })] };
}

/**
 * Recovers an endpoint after an outage (`POST /v1/endpoints/{id}/recover {"since"}`,
 * CONTRACT.md "Endpoints") inside the caller's transaction: every message to it with
 * status `failed` created at or after `since` is made pending and gets one more attempt, as
 * {@link requeueMessage} does (same `webhook-id`; exactly one attempt for a message past
 * the retry schedule). Refused with `endpoint_not_found` (not the merchant's, or deleted)
 * or `endpoint_disabled` (an attempt would only fail the messages again: enable it first).
 *
 * One `add_job` per message, all in this transaction: a recovery of many thousands of
 * messages holds the transaction for seconds.
 *
 * @returns How many messages were queued.
 */
export async function recoverEndpointMessages(
  tx: Tx,
  input: { merchantId: string; endpointId: string; since: Date; at: Date },
): Promise<RequeueOutcome<number>> {
  const [ep] = await tx<{ id: string; status: string }[]>`
    select id, status from gw.endpoints
     where id = ${input.endpointId} and merchant_id = ${input.merchantId} and status <> 'deleted'
       for update`;
  if (!ep) return { ok: false, error: 'endpoint_not_found' };
  if (ep.status !== 'enabled') return { ok: false, error: 'endpoint_disabled' };
  const messages = await tx<{ id: string; attempts: number }[]>`
    update gw.messages
       set status = 'pending', next_attempt_at = ${input.at}
     where endpoint_id = ${ep.id} and merchant_id = ${input.merchantId}
       and status = 'failed' and created_at >= ${input.since}
     returning id, attempts`;
  messages.sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const m of messages) await enqueueDelivery(tx, { messageId: m.id, endpointId: ep.id, attempt: m.attempts + 1 });
  return { ok: true, value: messages.length };
}
