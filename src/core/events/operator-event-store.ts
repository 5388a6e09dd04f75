// Operational webhooks (sql/0063_operator_events.sql): what is stored for the operator, and its delivery state.
import { utf8 } from '../crypto.js';
import type { Config } from '../config.js';
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import { enqueueOperatorEvent } from '../jobs/enqueue.js';

/** The operational event types (README "Operational webhooks"). */
export type OperatorEventType =
  | 'endpoint.disabled'
  | 'endpoint.circuit_opened'
  | 'endpoint.recovered'
  | 'ledger.imbalance'
  | 'inbound.source_failing'
  | 'review.compensation_failed';

/** One operational event to emit; `data` carries the merchant's id too. */
export interface OperatorEventToEmit {
  type: OperatorEventType;
  merchantId: string | null;
  /** One event per key: a second emit with it does nothing. */
  dedupeKey: string;
  data: Record<string, unknown>;
  at: Date;
}

/**
 * Stores an operational event as the exact bytes to sign (`{"type", "timestamp", "data"}`) and queues its delivery, in
 * the caller's transaction; does nothing when SWITCHYARD_OPERATOR_WEBHOOK_URL is unset or the key was used.
 *
 * @returns The event's id (`oev_…`), or undefined when nothing was stored.
 */
export async function emitOperatorEvent(tx: Tx, config: Config, e: OperatorEventToEmit): Promise<string | undefined> {
  if (config.SWITCHYARD_OPERATOR_WEBHOOK_URL === undefined) return undefined;
  const payload = utf8(JSON.stringify({ type: e.type, timestamp: e.at.toISOString(), data: { merchantId: e.merchantId, ...e.data } }));
  const [row] = await tx<{ id: string }[]>`
    insert into gw.operator_events (id, type, merchant_id, dedupe_key, payload, created_at)
    values (${newId('oev', e.at)}, ${e.type}, ${e.merchantId}, ${e.dedupeKey}, ${payload}, ${e.at})
    on conflict (dedupe_key) do nothing
    returning id`;
  if (row) await enqueueOperatorEvent(tx, row.id);
  return row?.id;
}

/** A pending operational event's bytes, or undefined when it is delivered, failed or unknown. */
export async function loadPendingOperatorEvent(tx: Tx, id: string): Promise<{ id: string; payload: Uint8Array } | undefined> {
  const [row] = await tx<{ id: string; payload: Uint8Array }[]>`
    select id, payload from gw.operator_events where id = ${id} and status = 'pending'`;
  return row;
}

/** Records one delivery attempt of an operational event: delivered, or failed (for good when `final`). */
export async function recordOperatorAttempt(
  tx: Tx,
  input: { id: string; delivered: boolean; error: string | null; final: boolean; at: Date },
): Promise<void> {
  await tx`
    update gw.operator_events
       set attempts = attempts + 1, last_error = ${input.error},
           status = case when ${input.delivered} then 'delivered' when ${input.final} then 'failed' else status end,
           delivered_at = case when ${input.delivered} then ${input.at}::timestamptz else delivered_at end
     where id = ${input.id} and status = 'pending'`;
}
