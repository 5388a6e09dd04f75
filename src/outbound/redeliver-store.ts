import type { Tx } from '../core/db/client.js';

/**
 * Makes one of the merchant's messages pending again, due at `at`, whatever its status.
 * The update locks the row, so `attempts` is what the delivery task last committed.
 * Undefined when the merchant has no such message.
 */
export async function reopenMessage(
  tx: Tx,
  input: { merchantId: string; messageId: string; at: Date },
): Promise<{ id: string; attempts: number } | undefined> {
  const [m] = await tx<{ id: string; attempts: number }[]>`
    update gw.messages
       set status = 'pending', next_attempt_at = ${input.at}
     where id = ${input.messageId} and merchant_id = ${input.merchantId}
     returning id, attempts`;
  return m;
}

/** As {@link reopenMessage}, for every message of an event whose endpoint is enabled. */
export async function reopenEventMessages(
  tx: Tx,
  input: { merchantId: string; eventId: string; at: Date },
): Promise<{ id: string; attempts: number }[]> {
  return tx<{ id: string; attempts: number }[]>`
    update gw.messages m
       set status = 'pending', next_attempt_at = ${input.at}
      from gw.endpoints ep
     where ep.id = m.endpoint_id
       and m.event_id = ${input.eventId} and m.merchant_id = ${input.merchantId} and ep.status = 'enabled'
     returning m.id, m.attempts`;
}

/** As {@link reopenMessage}, for an endpoint's `failed` messages created at or after `since`. */
export async function reopenFailedMessages(
  tx: Tx,
  input: { merchantId: string; endpointId: string; since: Date; at: Date },
): Promise<{ id: string; attempts: number }[]> {
  return tx<{ id: string; attempts: number }[]>`
    update gw.messages
       set status = 'pending', next_attempt_at = ${input.at}
     where endpoint_id = ${input.endpointId} and merchant_id = ${input.merchantId}
       and status = 'failed' and created_at >= ${input.since}
     returning id, attempts`;
}

/** The id of the merchant's message of an event to an endpoint, or undefined. */
export async function findEventMessage(
  tx: Tx,
  input: { merchantId: string; eventId: string; endpointId: string },
): Promise<string | undefined> {
  const [m] = await tx<{ id: string }[]>`
    select id from gw.messages
     where event_id = ${input.eventId} and endpoint_id = ${input.endpointId} and merchant_id = ${input.merchantId}`;
  return m?.id;
}
