import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized, NormalizedEvent } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const money = z.object({ amount, currency: z.string() });

// The Payment object of https://developer.squareup.com/reference/square/payments-api/webhooks/payment.updated
const payment = z.object({
  id: z.string().min(1).max(255),
  status: z.string(),
  amount_money: money,
  total_money: money.optional(),
  refunded_money: money.optional(),
  reference_id: z.string().max(255).optional(),
});

const event = z.object({
  type: z.string(),
  event_id: z.string(),
  data: z.object({ object: z.object({ payment }) }),
});

/** Square Payment `status` values and what each means for the payment. */
const SQUARE_STATUS_KINDS = {
  APPROVED: 'authorized',
  COMPLETED: 'captured',
  FAILED: 'failed',
  CANCELED: 'voided',
} as const;

/**
 * Maps a Square `payment.created` / `payment.updated` webhook
 * (https://developer.squareup.com/docs/payments-api/webhooks) to a NormalizedEvent by
 * {@link SQUARE_STATUS_KINDS}; amounts from `total_money`, else `amount_money`. COMPLETED
 * with `refunded_money` > 0 → refunded (cumulative). Other statuses → ignored, as are
 * `refund.*` events: the `payment.updated` that follows carries the cumulative total.
 */
export function normalizeSquare(body: unknown): Normalized {
  const type = (body as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return { kind: 'invalid', reason: 'not a Square event: no type' };
  if (type === 'refund.created' || type === 'refund.updated') {
    return { kind: 'ignored', reason: `Square ${type}: the payment.updated that follows carries the cumulative refunded_money` };
  }
  if (type !== 'payment.created' && type !== 'payment.updated')
    return { kind: 'ignored', reason: `Square event type ${type} is not mapped` };
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: `${type} without a valid data.object.payment` };
  const pay = e.data.data.object.payment;
  const kind = SQUARE_STATUS_KINDS[pay.status as keyof typeof SQUARE_STATUS_KINDS];
  if (!kind) return { kind: 'ignored', reason: `Square payment status ${pay.status} is not mapped` };
  const total = pay.total_money ?? pay.amount_money;
  const currency = normalizeCurrency(total.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${total.currency}` };
  const base = { pspReference: pay.id, currency, amount: minorUnits(total.amount) };
  const withRef = (ev: NormalizedEvent): Normalized => ({
    kind: 'event',
    event: pay.reference_id ? { ...ev, merchantReference: pay.reference_id } : ev,
  });

  if (kind === 'captured') {
    const capturedTotal = minorUnits(total.amount);
    if (pay.refunded_money && pay.refunded_money.amount > 0) {
      return withRef({ kind: 'refunded', ...base, capturedTotal, refundedTotal: minorUnits(pay.refunded_money.amount) });
    }
    return withRef({ kind, ...base, capturedTotal });
  }
  return withRef({ kind, ...base });
}
