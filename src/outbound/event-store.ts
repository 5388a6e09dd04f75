import type { Tx } from '../core/db/client.js';

/** A merchant-facing event with its body (the exact bytes delivered); `payload` null once expired (retention). */
export interface EventRow {
  id: string;
  type: string;
  paymentId: string | null;
  payload: Uint8Array | null;
  createdAt: Date;
}

interface EventDbRow {
  id: string;
  type: string;
  payment_id: string | null;
  payload: Uint8Array | null;
  created_at: Date;
}

const toEvent = (r: EventDbRow): EventRow => ({
  id: r.id,
  type: r.type,
  paymentId: r.payment_id,
  payload: r.payload,
  createdAt: r.created_at,
});

// Bodies are read by correlated subquery: one primary-key probe per row, pruned to the id's month (sql/0025_retention.sql).
const payloadOf = (tx: Tx) => tx`(select p.payload from gw.event_payloads p where p.event_id = e.id)`;

/** The merchant's events, newest first, optionally of one type; `limit + 1` rows. */
export async function listEvents(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string; type?: string },
): Promise<EventRow[]> {
  const rows = await tx<EventDbRow[]>`
    select e.id, e.type, e.payment_id, ${payloadOf(tx)} as payload, e.created_at
      from gw.events e
     where e.merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and e.id < ${q.startingAfter}` : tx``}
       ${q.type ? tx`and e.type = ${q.type}` : tx``}
     order by e.id desc
     limit ${q.limit + 1}`;
  return rows.map(toEvent);
}

/** One of the merchant's events, or undefined. */
export async function getEvent(tx: Tx, merchantId: string, id: string): Promise<EventRow | undefined> {
  const [row] = await tx<EventDbRow[]>`
    select e.id, e.type, e.payment_id, ${payloadOf(tx)} as payload, e.created_at
      from gw.events e
     where e.id = ${id} and e.merchant_id = ${merchantId}`;
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
  /** Null when there was none, or once expired (SWITCHYARD_RETENTION_ATTEMPT_RESPONSE_DAYS). */
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
  nextAttemptAt: Date | null;
}

/** Every attempt to deliver an event, to any endpoint, oldest first. */
export async function listAttempts(tx: Tx, eventId: string): Promise<AttemptRow[]> {
  return tx<AttemptRow[]>`
    select a.id, a.message_id as "messageId", a.endpoint_id as "endpointId", a.attempt_number as "attemptNumber",
           a.status, a.response_status as "responseStatus",
           (select b.response_body from gw.attempt_response_bodies b where b.attempt_id = a.id) as "responseBody", a.error,
           a.duration_ms as "durationMs", a.attempted_at as "attemptedAt", a.next_attempt_at as "nextAttemptAt"
      from gw.attempts a
     where a.event_id = ${eventId}
     order by a.id`;
}
