// The outbox: events, their messages to subscribed endpoints and first attempts, all in the caller's transaction.
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import { utf8 } from '../crypto.js';
import type { DeliveryJob } from '../jobs/catalog.js';
import { enqueueFirstAttempts, enqueueHandoff, enqueuePutOff } from '../jobs/enqueue.js';
import { endpointFilter, type FilterableEvent, filterableEvent } from './event-filter.js';
import { insertEvents, insertMessages, listEmitTargets, type NewMessageRow } from './outbox-store.js';

/** One merchant-facing event to emit (docs/architecture.md "Merchant-facing events"). */
export interface EventToEmit {
  merchantId: string;
  type: string;
  paymentId: string | null;
  /** Unique per merchant: an event whose key is taken is not emitted again. */
  dedupeKey: string;
  data: unknown;
  at: Date;
}

/**
 * First attempts handed to the emitting worker: instead of a job any worker may take, {@link queueMessages} queues
 * them as one job locked by the emitting worker's pool (enqueue.ts `enqueueHandoff`) and records them here; the
 * worker makes them itself once the transaction has committed, then removes the job (src/outbound/deliver.task.ts
 * `deliverHandoff`). Should it die first, recovery unlocks the job. Filled per transaction.
 */
export interface FirstAttemptHandoff {
  /** The graphile-worker pool the emitting job runs in (its `locked_by`), which holds the jobs locked. */
  poolId: string;
  /** Out: the attempts queued, and the ids of their jobs. */
  attempts: DeliveryJob[];
  jobIds: string[];
}

/** An emitted event and its messages. */
interface EmittedEvent {
  eventId: string;
  messageIds: string[];
}

/** {@link emitEvents} of one event. */
export async function emitEvent(tx: Tx, input: EventToEmit): Promise<EmittedEvent | undefined> {
  const [emitted] = await emitEvents(tx, [input]);
  return emitted;
}

/**
 * Emits events in the caller's transaction, in four statements and three round trips whatever their number: each body stored as the exact bytes
 * to sign (`{"type", "timestamp", "data"}`, the Standard Webhooks payload), then a message per enabled endpoint subscribed
 * to the type whose payload filter, if it has one, matches (event-filter.ts, in memory), its first attempt queued ({@link queueMessages}); an `ordered` endpoint gets a payment's events in input
 * order, a held one (open circuit, `held_until`) at the hold's end; with `handoff`, first attempts due now are handed to
 * the caller. One result per input, undefined if its key was taken.
 */
export async function emitEvents(
  tx: Tx,
  inputs: readonly EventToEmit[],
  handoff?: FirstAttemptHandoff,
): Promise<(EmittedEvent | undefined)[]> {
  if (inputs.length === 0) return [];
  // The endpoints are read in the same round trip as the events' insert (every input's merchant, from the earliest
  // input's time: a superset, narrowed per message below).
  const merchants = [...new Set(inputs.map((input) => input.merchantId))];
  let at = inputs[0]!.at;
  for (const input of inputs) if (input.at < at) at = input.at;
  const targets = listEmitTargets(tx, merchants, at);
  targets.catch(() => undefined); // awaited below; a failure there fails the caller's transaction
  const eventIds = await storeEvents(tx, inputs);
  const endpoints = await targets;
  const emitted = inputs.flatMap((input, i) => (eventIds[i] ? [{ input, eventId: eventIds[i] }] : []));
  if (emitted.length === 0) return inputs.map(() => undefined);
  const messages: MessageToQueue[] = [];
  const owners: number[] = [];
  emitted.forEach(({ input, eventId }, n) => {
    let filterable: FilterableEvent | undefined; // made once per event, and only for an endpoint with a filter
    for (const ep of endpoints) {
      if (ep.merchant_id !== input.merchantId || (ep.event_types !== null && !ep.event_types.includes(input.type))) continue;
      if (ep.filter !== null) {
        filterable ??= filterableEvent(input.type, input.data);
        if (!endpointFilter(ep.id, ep.filter_version, ep.filter)?.matches(filterable)) continue;
      }
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
  const messageIds = await queueMessages(tx, messages, handoff);
  const byEvent = emitted.map(({ eventId }) => ({ eventId, messageIds: [] as string[] }));
  for (const [m, id] of messageIds.entries()) byEvent[owners[m]!]!.messageIds.push(id);
  let next = 0;
  return eventIds.map((id) => (id ? byEvent[next++] : undefined));
}

/** Stores events without messages: each one's id, or undefined when its (merchant, dedupeKey) is taken (also by an earlier input). */
export async function storeEvents(tx: Tx, inputs: readonly EventToEmit[]): Promise<(string | undefined)[]> {
  const rows = inputs.map((input) => ({
    id: newId('evt', input.at),
    merchantId: input.merchantId,
    type: input.type,
    paymentId: input.paymentId,
    dedupeKey: input.dedupeKey,
    body: utf8(JSON.stringify({ type: input.type, timestamp: input.at.toISOString(), data: input.data })),
    at: input.at,
  }));
  const inserted = await insertEvents(tx, rows);
  return rows.map((r) => (inserted.has(r.id) ? r.id : undefined));
}

/** One message (event × endpoint) to queue. */
interface MessageToQueue {
  eventId: string;
  endpointId: string;
  merchantId: string;
  at: Date;
  /** The event's payment when the endpoint is `ordered`: the message waits for that payment's older messages. */
  orderedPaymentId?: string | null;
  /** Its endpoint's circuit is open or it is held until then: the first attempt is put off to then, uncounted. */
  holdUntil?: Date | null;
}

/**
 * Inserts messages and queues their first attempts (put off to `holdUntil` where set; handed to the caller through
 * `handoff` when given, see {@link FirstAttemptHandoff}); returns their ids, in input order.
 */
export async function queueMessages(tx: Tx, inputs: readonly MessageToQueue[], handoff?: FirstAttemptHandoff): Promise<string[]> {
  if (inputs.length === 0) return [];
  const rows: NewMessageRow[] = inputs.map((m) => ({
    id: newId('msg', m.at),
    eventId: m.eventId,
    endpointId: m.endpointId,
    merchantId: m.merchantId,
    nextAttemptAt: m.holdUntil ?? m.at,
    orderedPaymentId: m.orderedPaymentId ?? null,
  }));
  await insertMessages(tx, rows);
  const now: { messageId: string; endpointId: string }[] = [];
  const held = new Map<string, { until: Date; attempts: DeliveryJob[] }>();
  for (const [i, r] of rows.entries()) {
    const until = inputs[i]!.holdUntil;
    if (!until) {
      now.push({ messageId: r.id, endpointId: r.endpointId });
      continue;
    }
    const h = held.get(r.endpointId) ?? { until, attempts: [] };
    h.attempts.push({ messageId: r.id, attempt: 1 });
    held.set(r.endpointId, h);
  }
  if (handoff && now.length > 0) {
    const attempts = now.map((n) => ({ messageId: n.messageId, attempt: 1 }));
    handoff.jobIds.push(await enqueueHandoff(tx, attempts, handoff.poolId));
    handoff.attempts.push(...attempts);
  } else {
    await enqueueFirstAttempts(tx, now);
  }
  // One job per held endpoint and second of emitting: its payload stays about (rate × 1 s) long.
  for (const [endpointId, h] of held) {
    await enqueuePutOff(tx, { endpointId, attempts: h.attempts, retryAt: h.until, window: `held:${Math.floor(Date.now() / 1000)}` });
  }
  return rows.map((r) => r.id);
}
