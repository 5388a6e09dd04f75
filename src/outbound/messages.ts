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
  const eventId = newId('evt', input.at);
  const payload = utf8(JSON.stringify({ type: input.type, timestamp: input.at.toISOString(), data: input.data }));
  const inserted = await tx<{ id: string }[]>`
    insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, payload, created_at)
    values (${eventId}, ${input.merchantId}, ${input.type}, ${input.paymentId}, ${input.dedupeKey}, ${payload}, ${input.at})
    on conflict (merchant_id, dedupe_key) do nothing
    returning id`;
  if (inserted.length === 0) return undefined;
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
 * The job runs in the graphile-worker queue `ep:<endpoint>:<slot>`, slot = a hash of the
 * message id modulo the endpoint's `max_in_flight`: a queue runs one job at a time, so an
 * endpoint never has more than `max_in_flight` deliveries in flight and a hanging endpoint
 * cannot take every worker.
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
      queue_name => (select 'ep:' || e.id || ':' || (abs(hashtext(${input.messageId})::bigint) % e.max_in_flight)
                       from gw.endpoints e
                      where e.id = ${input.endpointId}),
      run_at => ${input.runAt ?? null}::timestamptz,
      max_attempts => 25,
      job_key => ${`deliver:${input.messageId}:${input.attempt}`}::text)`;
}
