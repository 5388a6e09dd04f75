import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// https://razorpay.com/docs/api/payments/ (the payment entity); amounts in the smallest unit
const paymentEntity = z.object({
  id: z.string().min(1).max(255),
  amount,
  currency: z.string(),
  amount_refunded: amount.optional(),
  captured: z.boolean().optional(),
});

const event = z.object({
  event: z.string(),
  payload: z.object({ payment: z.object({ entity: paymentEntity }) }),
});

/** The Razorpay events Switchyard applies, and what each means for the payment. */
const RAZORPAY_EVENT_KINDS = {
  'payment.authorized': 'authorized',
  'payment.captured': 'captured',
  'payment.failed': 'failed',
  'refund.processed': 'refunded',
} as const;

/**
 * Maps a Razorpay webhook (https://razorpay.com/docs/webhooks/payments/ and
 * https://razorpay.com/docs/webhooks/refunds/) to a NormalizedEvent; the payment is
 * `payload.payment.entity.id` (`pay_…`), also for refunds.
 * - payment.authorized / .failed / .captured → authorized / failed / captured (capturedTotal
 *   = `amount`: captured once, in full).
 * - refund.processed → refunded with the payment's cumulative `amount_refunded` (not the
 *   refund's own delta); on a never-captured payment (`captured: false`) → voided.
 * - anything else → ignored.
 */
export function normalizeRazorpay(body: unknown): Normalized {
  const name = (body as { event?: unknown } | null)?.event;
  if (typeof name !== 'string') return { kind: 'invalid', reason: 'not a Razorpay event: no event name' };
  const kind = RAZORPAY_EVENT_KINDS[name as keyof typeof RAZORPAY_EVENT_KINDS];
  if (!kind) return { kind: 'ignored', reason: `Razorpay event ${name} is not mapped` };
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: `${name} without a valid payload.payment.entity` };
  const pay = e.data.payload.payment.entity;
  const currency = normalizeCurrency(pay.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${pay.currency}` };
  const base = { pspReference: pay.id, currency, amount: minorUnits(pay.amount) };

  if (kind === 'refunded') {
    if (pay.captured === false) return { kind: 'event', event: { kind: 'voided', ...base } };
    if (pay.amount_refunded === undefined) return { kind: 'invalid', reason: 'refund.processed without payment.entity.amount_refunded' };
    return {
      kind: 'event',
      event: { kind, ...base, capturedTotal: minorUnits(pay.amount), refundedTotal: minorUnits(pay.amount_refunded) },
    };
  }
  if (kind === 'captured') return { kind: 'event', event: { kind, ...base, capturedTotal: minorUnits(pay.amount) } };
  return { kind: 'event', event: { kind, ...base } };
}
