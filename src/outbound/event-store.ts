import type { Tx } from '../core/db/client.js';

/** A merchant-facing event with its body (the exact bytes delivered). */
export interface EventRow {
  id: string;
  type: string;
  paymentId: string | null;
  payload: Uint8Array;
  createdAt: Date;
}

interface EventDbRow {
  id: string;
  type: string;
  payment_id: string | null;
  payload: Uint8Array;
  created_at: Date;
}

const toEvent = (r: EventDbRow): EventRow => ({
  id: r.id,
  type: r.type,
  paymentId: r.payment_id,
  payload: r.payload,
  createdAt: r.created_at,
});

/** The merchant's events, newest first, optionally of one type; `limit + 1` rows. */
export async function listEvents(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string; type?: string },
): Promise<EventRow[]> {
  const rows = await tx<EventDbRow[]>`
    select id, type, payment_id, payload, created_at from gw.events
     where merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and id < ${q.startingAfter}` : tx``}
       ${q.type ? tx`and type = ${q.type}` : tx``}
     order by id desc
     limit ${q.limit + 1}`;
  return rows.map(toEvent);
}

/** One of the merchant's events, or undefined. */
export async function getEvent(tx: Tx, merchantId: string, id: string): Promise<EventRow | undefined> {
  const [row] = await tx<EventDbRow[]>`
    select id, type, payment_id, payload, created_at from gw.events where id = ${id} and merchant_id = ${merchantId}`;
  return row && toEvent(row);
}

/** A delivery attempt as docs/http-api.md "Events and attempts" lists it. */
interface AttemptRow {
  id: string;
  messageId: string;
  endpointId: string;
  attemptNumber: number;
  status: 'succeeded' | 'failed';
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
  nextAttemptAt: Date | null;
}

/** Every attempt to deliver an event, to any endpoint, oldest first. */
export async function listAttempts(tx: Tx, eventId: string): Promise<AttemptRow[]> {
  return tx<AttemptRow[]>`
    select id, message_id as "messageId", endpoint_id as "endpointId", attempt_number as "attemptNumber",
           status, response_status as "responseStatus", response_body as "responseBody", error,
           duration_ms as "durationMs", attempted_at as "attemptedAt", next_attempt_at as "nextAttemptAt"
      from gw.attempts
     where event_id = ${eventId}
     order by id`;
}
