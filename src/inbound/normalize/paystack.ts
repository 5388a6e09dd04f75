import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// The transaction object of https://paystack.com/docs/payments/webhooks/ (amount in the
// currency's subunit: kobo, pesewas, cents)
const chargeSuccess = z.object({
  event: z.literal('charge.success'),
  data: z.object({
    reference: z.string().min(1).max(255),
    amount,
    currency: z.string(),
  }),
});

/**
 * Maps a Paystack webhook (https://paystack.com/docs/payments/webhooks/) to a NormalizedEvent.
 * - charge.success → captured: the payment is `data.reference`, capturedTotal `data.amount`
 *   (a transaction is charged once, in full).
 * - refund.processed → ignored: `data.amount` is that one refund's, not a cumulative total.
 * - Any other event → ignored.
 */
export function normalizePaystack(body: unknown): Normalized {
  const name = (body as { event?: unknown } | null)?.event;
  if (typeof name !== 'string') return { kind: 'invalid', reason: 'not a Paystack event: no event name' };
  if (name === 'refund.processed') {
    return { kind: 'ignored', reason: 'Paystack refund.processed carries one refund amount, not cumulative totals; not mapped yet' };
  }
  if (name !== 'charge.success') return { kind: 'ignored', reason: `Paystack event ${name} is not mapped` };
  const p = chargeSuccess.safeParse(body);
  if (!p.success) return { kind: 'invalid', reason: 'charge.success without data.reference, data.amount and data.currency' };
  const d = p.data.data;
  const currency = normalizeCurrency(d.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${d.currency}` };
  const total = minorUnits(d.amount);
  return { kind: 'event', event: { kind: 'captured', pspReference: d.reference, currency, amount: total, capturedTotal: total } };
}
