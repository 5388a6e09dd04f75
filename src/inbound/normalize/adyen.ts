import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized, NormalizedEvent } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * One `NotificationRequestItem` of an Adyen standard webhook, as stored (providers.ts stores
 * each item of `notificationItems` as its own event). `success` is the string "true"/"false"
 * in JSON webhooks; a boolean is accepted too.
 * https://docs.adyen.com/development-resources/webhooks/webhook-types
 */
export const adyenNotificationItem = z.object({
  eventCode: z.string().min(1),
  pspReference: z.string().min(1).max(255),
  originalReference: z.string().max(255).optional(),
  merchantReference: z.string().max(255).optional(),
  success: z.union([z.enum(['true', 'false']), z.boolean()]),
  amount: z.object({ value: amount, currency: z.string() }),
});

/**
 * Maps one Adyen notification item (https://docs.adyen.com/development-resources/webhooks/webhook-types)
 * to a NormalizedEvent. The payment is the authorisation: its `pspReference` for AUTHORISATION,
 * `originalReference` for the modifications (CAPTURE, CANCELLATION, REFUND).
 *
 * - AUTHORISATION success → authorized (amount); success false → failed.
 * - CAPTURE success → captured with capturedTotal = `amount.value`.
 * - CANCELLATION success → voided.
 * - REFUND success → refunded with refundedTotal = capturedTotal = `amount.value`.
 * - An unsuccessful modification, CAPTURE_FAILED and REFUND_FAILED → ignored (Switchyard has
 *   no capture-failed or refund-failed kinds yet); any other eventCode → ignored.
 *
 * Limitation: Adyen reports the amount of the one operation, not cumulative totals. A CAPTURE
 * is taken to be the full (only) capture, and a REFUND's amount as both totals, which is right
 * for one full capture and one refund only. Partial and multiple captures or refunds are
 * under-counted (a second refund of the same size is seen as stale) until the operations
 * model of issue #3 keeps per-operation amounts.
 */
export function normalizeAdyen(body: unknown): Normalized {
  const p = adyenNotificationItem.safeParse(body);
  if (!p.success) {
    return { kind: 'invalid', reason: `not an Adyen NotificationRequestItem: ${p.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}` };
  }
  const item = p.data;
  const success = item.success === true || item.success === 'true';
  const currency = normalizeCurrency(item.amount.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${item.amount.currency}` };
  const value = minorUnits(item.amount.value);
  const withRef = (ev: NormalizedEvent): Normalized => ({
    kind: 'event',
    event: item.merchantReference ? { ...ev, merchantReference: item.merchantReference } : ev,
  });

  if (item.eventCode === 'AUTHORISATION') {
    return withRef({ kind: success ? 'authorized' : 'failed', pspReference: item.pspReference, currency, amount: value });
  }
  if (item.eventCode === 'CAPTURE_FAILED' || item.eventCode === 'REFUND_FAILED') {
    return { kind: 'ignored', reason: `Adyen ${item.eventCode}: failed captures and refunds are not mapped yet` };
  }
  const kind = ({ CAPTURE: 'captured', CANCELLATION: 'voided', REFUND: 'refunded' } as const)[item.eventCode as 'CAPTURE' | 'CANCELLATION' | 'REFUND'];
  if (!kind) return { kind: 'ignored', reason: `Adyen eventCode ${item.eventCode} is not mapped` };
  if (!success) return { kind: 'ignored', reason: `Adyen ${item.eventCode} with success false: failed modifications are not mapped yet` };
  if (!item.originalReference) return { kind: 'invalid', reason: `Adyen ${item.eventCode} without originalReference` };
  const pspReference = item.originalReference;
  if (kind === 'captured') return withRef({ kind, pspReference, currency, capturedTotal: value });
  if (kind === 'refunded') return withRef({ kind, pspReference, currency, capturedTotal: value, refundedTotal: value });
  return withRef({ kind, pspReference, currency });
}
