import type { Tx } from '../core/db/client.js';
import type { EventToFetch } from './verify-or-fetch.js';

/**
 * Takes up to `wanted` PSP object reads from the merchant's budget of `perWindow` in the one-minute window that
 * starts at `windowStart` (gw.take_psp_fetch_calls, sql/0090_source_trust.sql: counted in gw.psp_fetch_usage,
 * across processes). Returns how many were granted, 0..wanted. Call it outside a processing transaction: the
 * merchant's usage row stays locked until the caller's transaction ends.
 */
export async function takePspFetchCalls(tx: Tx, merchantId: string, windowStart: Date, wanted: number, perWindow: number): Promise<number> {
  const [row] = await tx<{ granted: number }[]>`
    select gw.take_psp_fetch_calls(${merchantId}, ${windowStart}::timestamptz, ${wanted}::int, ${perWindow}::int) as granted`;
  return row!.granted;
}

/**
 * The events among `ids` still `received` whose source has `trust: fetch`, with their bodies (null once
 * expired), unlocked: what {@link takePspFetchCalls}'s caller reads from the PSP before its transaction.
 */
export async function receivedEventsToFetch(tx: Tx, ids: readonly string[]): Promise<EventToFetch[]> {
  if (ids.length === 0) return [];
  return tx<EventToFetch[]>`
    select i.id, i.merchant_id as "merchantId", i.source_id as "sourceId", s.provider,
           (select b.raw_body from gw.inbound_event_bodies b where b.inbound_event_id = i.id) as "rawBody"
      from gw.inbound_events i
      join gw.sources s on s.id = i.source_id
     where i.id = any(${ids as string[]}::text[])
       and i.status = 'received'
       and s.trust = 'fetch'
     order by i.id`;
}
