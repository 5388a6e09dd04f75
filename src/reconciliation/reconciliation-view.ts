// The JSON shapes of docs/http-api.md "Reconciliation": a run and one of its items; amounts in signed minor units.
import type { z } from 'zod';
import { type ReconciliationItemData, ReconciliationItemResult, type ReconciliationRunData } from '../core/events/event-data.js';
import { toJsonAmount } from '../core/money.js';
import type { ItemRow, RunRow } from './reconciliation-store.js';

/** The results an item may have, in the order `counts` lists them. */
export const RESULTS = ReconciliationItemResult.options;

const amount = (v: string | null): number | null => (v === null ? null : toJsonAmount(v));

/**
 * A run as `GET /v1/reconciliation/settlements/{id}` answers it: `counts.lines` is the report's data lines; the other
 * counts are per result (`invalid`: lines that could not be read); `totals` per currency over every readable line.
 */
export function runView(r: RunRow): z.infer<typeof ReconciliationRunData> {
  const counts: Record<string, number> = { lines: r.lines };
  for (const k of RESULTS) counts[k] = Number(r.counts?.[k] ?? 0);
  return {
    id: r.id,
    sourceId: r.source_id,
    status: r.status,
    format: r.format,
    ...(r.format === 'stripe' ? { payoutId: r.payout_id } : { batchNumber: r.batch_number }),
    periodStart: r.period_start?.toISOString() ?? null,
    periodEnd: r.period_end?.toISOString() ?? null,
    linesDone: r.lines_done,
    counts: counts as z.infer<typeof ReconciliationRunData>['counts'], // every RESULTS key, filled above
    totals: (r.totals ?? []).map((t) => ({
      currency: t.currency,
      gross: toJsonAmount(t.gross),
      fee: toJsonAmount(t.fee),
      net: toJsonAmount(t.net),
    })),
    error: r.error,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
  };
}

/** One item as `GET /v1/reconciliation/settlements/{id}/items` lists it and `reconciliation.mismatch` carries it. */
export function itemView(i: ItemRow): z.infer<typeof ReconciliationItemData> {
  return {
    position: i.position,
    lineNumber: i.line_no,
    result: i.result as (typeof RESULTS)[number],
    lineId: i.line_id,
    category: i.category,
    pspType: i.psp_type,
    pspReference: i.operation_ref ?? i.payment_ref,
    paymentReference: i.payment_ref,
    paymentId: i.payment_id,
    // a converted line's fee and net are in another currency: `detail` names them, `reported` keeps its gross's
    reported:
      i.currency === null || i.gross === null
        ? null
        : {
            currency: i.currency,
            gross: toJsonAmount(i.gross),
            fee: i.net_currency === null ? amount(i.fee) : null,
            net: i.net_currency === null ? amount(i.net) : null,
          },
    expected: i.expected === null ? null : { currency: i.currency, gross: toJsonAmount(i.expected) },
    detail: i.detail,
  };
}
