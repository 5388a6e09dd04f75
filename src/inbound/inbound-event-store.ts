import type { Tx } from '../core/db/client.js';

/** A stored inbound event as `GET /v1/inbound-events/{id}` shows it. */
export interface InboundEventRow {
  id: string;
  sourceId: string;
  eventId: string;
  eventType: string | null;
  status: string;
  paymentId: string | null;
  error: string | null;
  receivedAt: Date;
  processedAt: Date | null;
  headers: Record<string, string>;
  rawBody: Uint8Array;
}

const columns = (tx: Tx) => tx`
  id, source_id as "sourceId", event_id as "eventId", event_type as "eventType", status,
  payment_id as "paymentId", error, received_at as "receivedAt", processed_at as "processedAt",
  headers, raw_body as "rawBody"`;

/** The merchant's inbound events, newest first, filtered; `limit + 1` rows. */
export async function listInboundEvents(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string; sourceId?: string; status?: string },
): Promise<InboundEventRow[]> {
  return tx<InboundEventRow[]>`
    select ${columns(tx)} from gw.inbound_events
     where merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and id < ${q.startingAfter}` : tx``}
       ${q.sourceId ? tx`and source_id = ${q.sourceId}` : tx``}
       ${q.status ? tx`and status = ${q.status}` : tx``}
     order by id desc
     limit ${q.limit + 1}`;
}

/** One of the merchant's inbound events, or undefined. */
export async function getInboundEvent(tx: Tx, merchantId: string, id: string): Promise<InboundEventRow | undefined> {
  const [row] = await tx<InboundEventRow[]>`
    select ${columns(tx)} from gw.inbound_events where id = ${id} and merchant_id = ${merchantId}`;
  return row;
}
