import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized, NormalizedEvent } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// https://www.checkout.com/docs/developer-resources/event-notifications/event-types
const paymentData = z.object({
  id: z.string().min(1).max(255),
  amount,
  currency: z.string(),
  reference: z.string().max(255).optional(),
  balances: z.object({ total_captured: amount, total_refunded: amount }).optional(),
});

const event = z.object({ id: z.string(), type: z.string(), data: paymentData });

/** The Checkout.com event types Switchyard applies, and what each means for the payment. */
const CHECKOUT_EVENT_KINDS = {
  payment_approved: 'authorized',
  payment_captured: 'captured',
  payment_declined: 'failed',
  payment_voided: 'voided',
  payment_refunded: 'refunded',
} as const;

/**
 * Maps a Checkout.com webhook (https://www.checkout.com/docs/developer-resources/event-notifications/event-types)
 * to a NormalizedEvent: the payment is `data.id` (`pay_…`), `data.reference` the
 * merchantReference. Captures and refunds use the cumulative `data.balances` totals
 * (`data.amount` is a delta), so without `balances` they are ignored; other types → ignored.
 */
export function normalizeCheckout(body: unknown): Normalized {
  const type = (body as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return { kind: 'invalid', reason: 'not a Checkout.com event: no type' };
  const kind = CHECKOUT_EVENT_KINDS[type as keyof typeof CHECKOUT_EVENT_KINDS];
  if (!kind) return { kind: 'ignored', reason: `Checkout.com event type ${type} is not mapped` };
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: `${type} without a valid payment data object` };
  const d = e.data.data;
  const currency = normalizeCurrency(d.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${d.currency}` };
  const withRef = (ev: NormalizedEvent): Normalized => ({
    kind: 'event',
    event: d.reference ? { ...ev, merchantReference: d.reference } : ev,
  });

  if (kind === 'captured' || kind === 'refunded') {
    if (!d.balances) return { kind: 'ignored', reason: `Checkout.com ${type} without data.balances: the cumulative total is unknown` };
    const capturedTotal = minorUnits(d.balances.total_captured);
    if (kind === 'captured') return withRef({ kind, pspReference: d.id, currency, capturedTotal });
    return withRef({ kind, pspReference: d.id, currency, capturedTotal, refundedTotal: minorUnits(d.balances.total_refunded) });
  }
  return withRef({ kind, pspReference: d.id, currency, amount: minorUnits(d.amount) });
}
