import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import { toBase64, utf8 } from '../crypto.js';
import type { DeliveryJob } from '../jobs/catalog.js';
import { enqueueDeliveries, enqueueDeliveryBatches, enqueueFirstAttempts, enqueuePutOff } from '../jobs/enqueue.js';

/** What {@link emitEvent} and {@link emitEvents} take: one merchant-facing event. */
export interface EventToEmit {
  merchantId: string;
  type: string;
  paymentId: string | null;
  dedupeKey: string;
  data: unknown;
  at: Date;
}

/**
 * Emits a merchant-facing event (DESIGN.md "Merchant-facing events") inside the caller's
 * transaction: stores its body as the exact bytes that will be signed and sent
 * (`{"type", "timestamp", "data"}`, Standard Webhooks payload shape), then one message per
 * enabled endpoint subscribed to the type, each with a queued first delivery attempt (to an
 * `ordered` endpoint, a payment's events go out one after the other, in this order).
 * `dedupeKey` makes a replay emit nothing: returns undefined when the event already exists.
 */
export async function emitEvent(tx: Tx, input: EventToEmit): Promise<{ eventId: string; messageIds: string[] } | undefined> {
  const [emitted] = await emitEvents(tx, [input]);
  return emitted;
}

/**
 * {@link emitEvent} for many events in four statements whatever their number (the events,
 * the endpoints of their merchants, the messages, the first attempts: one add_jobs call, one
 * batch-job spec per endpoint), so a processing transaction that emits fifty events touches
 * an endpoint's batch job once, not fifty times. Events are stored in input order (their ids
 * increase in that order). An endpoint whose circuit is open, or that a worker found hanging
 * (`held_until`), gets its messages queued for then (its put-off job). Returns one result per
 * input, undefined for an event whose (merchant, dedupeKey) already exists.
 */
export async function emitEvents(tx: Tx, inputs: readonly EventToEmit[]): Promise<({ eventId: string; messageIds: string[] } | undefined)[]> {
  if (inputs.length === 0) return [];
  const eventIds = await insertEvents(tx, inputs);
  const emitted = inputs.flatMap((input, i) => (eventIds[i] ? [{ input, eventId: eventIds[i] }] : []));
  if (emitted.length === 0) return inputs.map(() => undefined);
  const merchants = [...new Set(emitted.map((e) => e.input.merchantId))];
  const at = emitted.reduce((min, e) => (e.input.at < min ? e.input.at : min), emitted[0]!.input.at);
  const endpoints = await tx<{ id: string; merchant_id: string; ordered: boolean; event_types: string[] | null; hold_until: Date | null }[]>`
    select id, merchant_id, ordered, event_types,
           case when greatest(circuit_open_until, held_until) > ${at} then greatest(circuit_open_until, held_until) end as hold_until
      from gw.endpoints
     where merchant_id = any(${merchants}::text[]) and status = 'enabled'
     order by id`;
  const messages: Parameters<typeof queueMessages>[1][number][] = [];
  const owners: number[] = [];
  emitted.forEach(({ input, eventId }, n) => {
    for (const ep of endpoints) {
      if (ep.merchant_id !== input.merchantId || (ep.event_types !== null && !ep.event_types.includes(input.type))) continue;
      messages.push({
        eventId,
        endpointId: ep.id,
        merchantId: input.merchantId,
        at: input.at,
        orderedPaymentId: ep.ordered ? input.paymentId : null,
        holdUntil: ep.hold_until && ep.hold_until > input.at ? ep.hold_until : null,
      });
      owners.push(n);
    }
  });
  const messageIds = await queueMessages(tx, messages);
  const byEvent = emitted.map(({ eventId }) => ({ eventId, messageIds: [] as string[] }));
  messageIds.forEach((id, m) => byEvent[owners[m]!]!.messageIds.push(id));
  let next = 0;
  return eventIds.map((id) => (id ? byEvent[next++] : undefined));
}

/**
 * Stores events' bodies as the exact bytes that will be signed and sent, in one statement;
 * returns each one's id, or undefined when (merchant, dedupeKey) already has one (or an
 * earlier input of the same call took it).
 */
async function insertEvents(tx: Tx, inputs: readonly EventToEmit[]): Promise<(string | undefined)[]> {
  const rows = inputs.map((input) => ({
    id: newId('evt', input.at),
    merchantId: input.merchantId,
    type: input.type,
    paymentId: input.paymentId,
    dedupeKey: input.dedupeKey,
    // base64 in the JSON document: the bytes stored are exactly these (no text conversion)
    payload: toBase64(utf8(JSON.stringify({ type: input.type, timestamp: input.at.toISOString(), data: input.data }))),
    at: input.at.toISOString(),
  }));
  const inserted = await tx<{ id: string }[]>`
    insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, payload, created_at)
    select e.id, e."merchantId", e.type, e."paymentId", e."dedupeKey", decode(e.payload, 'base64'), e.at
      from json_to_recordset(${tx.json(rows)}::json)
             as e(id text, "merchantId" text, type text, "paymentId" text, "dedupeKey" text, payload text, at timestamptz)
     order by e.id
    on conflict (merchant_id, dedupe_key) do nothing
    returning id`;
  const ids = new Set(inserted.map((r) => r.id));
  return rows.map((r) => (ids.has(r.id) ? r.id : undefined));
}

/** One event's body stored; see {@link insertEvents}. */
async function insertEvent(tx: Tx, input: EventToEmit): Promise<string | undefined> {
  const [id] = await insertEvents(tx, [input]);
  return id;
}

/**
 * Inserts one message (event × endpoint) and queues its first delivery attempt
 * (enqueueFirstAttempts). `orderedPaymentId`: the event's payment when the endpoint
 * is `ordered` (the message then waits for the older messages of that payment to that
 * endpoint, see deliver.task.ts), else null/absent.
 */
export async function queueMessage(
  tx: Tx,
  input: { eventId: string; endpointId: string; merchantId: string; at: Date; orderedPaymentId?: string | null },
): Promise<string> {
  const [messageId] = await queueMessages(tx, [input]);
  return messageId!;
}

/**
 * {@link queueMessage} for many messages in two statements whatever their number: one
 * multi-row insert into gw.messages, then their first attempts queued together
 * (enqueueFirstAttempts). A message with `holdUntil` (its endpoint's circuit is
 * open or its endpoint is held, see emitEvent) has its first attempt put off to then instead
 * (enqueuePutOff, uncounted, `next_attempt_at` = `holdUntil`). Returns the new message
 * ids, in input order.
 */
export async function queueMessages(
  tx: Tx,
  inputs: readonly { eventId: string; endpointId: string; merchantId: string; at: Date; orderedPaymentId?: string | null; holdUntil?: Date | null }[],
): Promise<string[]> {
  if (inputs.length === 0) return [];
  const rows = inputs.map((m) => ({
    id: newId('msg', m.at),
    eventId: m.eventId,
    endpointId: m.endpointId,
    merchantId: m.merchantId,
    at: (m.holdUntil ?? m.at).toISOString(),
    orderedPaymentId: m.orderedPaymentId ?? null,
  }));
  await tx`
    insert into gw.messages (id, event_id, endpoint_id, merchant_id, next_attempt_at, ordered_payment_id)
    select m.id, m."eventId", m."endpointId", m."merchantId", m.at, m."orderedPaymentId"
      from json_to_recordset(${tx.json(rows)}::json)
             as m(id text, "eventId" text, "endpointId" text, "merchantId" text, at timestamptz, "orderedPaymentId" text)`;
  const now: { messageId: string; endpointId: string }[] = [];
  const held = new Map<string, { until: Date; attempts: DeliveryJob[] }>();
  rows.forEach((r, i) => {
    const until = inputs[i]!.holdUntil;
    if (!until) return void now.push({ messageId: r.id, endpointId: r.endpointId });
    const h = held.get(r.endpointId) ?? { until, attempts: [] };
    h.attempts.push({ messageId: r.id, attempt: 1 });
    held.set(r.endpointId, h);
  });
  await enqueueFirstAttempts(tx, now);
  // One job per held endpoint and second of emitting: its payload stays ~rate × 1 s long.
  for (const [endpointId, h] of held) {
    await enqueuePutOff(tx, { endpointId, attempts: h.attempts, retryAt: h.until, window: `held:${Math.floor(Date.now() / 1000)}` });
  }
  return rows.map((r) => r.id);
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
 * more attempt numbered `attempts + 1` to run now (`enqueueDeliveries`). The message keeps
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
  await enqueueDeliveries(tx, [{ messageId: m.id, attempt: m.attempts + 1 }]);
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
    // As requeueMessage, for all of them in one update and one add_jobs.
    const messages = await tx<{ id: string; attempts: number }[]>`
      update gw.messages m
         set status = 'pending', next_attempt_at = ${at}
        from gw.endpoints ep
       where ep.id = m.endpoint_id
         and m.event_id = ${event.id} and m.merchant_id = ${merchantId} and ep.status = 'enabled'
       returning m.id, m.attempts`;
    messages.sort((a, b) => (a.id < b.id ? -1 : 1));
    await enqueueDeliveries(tx, messages.map((m) => ({ messageId: m.id, attempt: m.attempts + 1 })));
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
 * The attempts are queued in ONE `add_jobs` call, as batch jobs of up to
 * 200 messages each (enqueueDeliveryBatches), which the
 * worker delivers together.
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
  await enqueueDeliveryBatches(tx, messages.map((m) => ({ messageId: m.id, attempt: m.attempts + 1 })));
  return { ok: true, value: messages.length };
}
