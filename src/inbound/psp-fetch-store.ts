import type { Tx } from '../core/db/client.js';

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
