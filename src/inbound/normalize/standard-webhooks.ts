import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * The payload a Standard Webhooks source sends (README "Standard Webhooks sources"):
 * `{"type", "timestamp", "data": {"pspReference", "currency", "amount", "capturedAmount"?,
 * "refundedAmount"?, "merchantReference"?}}`, amounts in minor units, captured and
 * refunded amounts cumulative.
 */
const standardWebhooksPaymentEvent = z.object({
  type: z.string(),
  data: z.object({
    pspReference: z.string().min(1).max(255),
    currency: z.string(),
    amount,
    capturedAmount: amount.optional(),
    refundedAmount: amount.optional(),
    merchantReference: z.string().max(255).optional(),
  }),
});

/** The normalized types a Standard Webhooks source may send, and what each means. */
const STANDARD_WEBHOOKS_EVENT_KINDS = {
  'payment.authorized': 'authorized',
  'payment.captured': 'captured',
  'payment.failed': 'failed',
  'payment.voided': 'voided',
  'payment.refunded': 'refunded',
} as const;

/** Maps a Standard Webhooks source's payment event to a NormalizedEvent. */
export function normalizeStandardWebhooks(body: unknown): Normalized {
  const type = (body as { type?: unknown } | null)?.type;
  const kind = typeof type === 'string' ? STANDARD_WEBHOOKS_EVENT_KINDS[type as keyof typeof STANDARD_WEBHOOKS_EVENT_KINDS] : undefined;
  if (!kind) return { kind: 'ignored', reason: `event type ${String(type)} is not mapped` };
  const p = standardWebhooksPaymentEvent.safeParse(body);
  if (!p.success)
    return { kind: 'invalid', reason: `${String(type)}: ${p.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}` };
  const d = p.data.data;
  const currency = normalizeCurrency(d.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${d.currency}` };
  if (kind === 'refunded' && (d.refundedAmount === undefined || d.capturedAmount === undefined)) {
    return { kind: 'invalid', reason: 'payment.refunded needs data.refundedAmount and data.capturedAmount (cumulative totals)' };
  }
  return {
    kind: 'event',
    event: {
      kind,
      pspReference: d.pspReference,
      currency,
      amount: minorUnits(d.amount),
      ...(d.capturedAmount !== undefined
        ? { capturedTotal: minorUnits(d.capturedAmount) }
        : kind === 'captured'
          ? { capturedTotal: minorUnits(d.amount) }
          : {}),
      ...(d.refundedAmount !== undefined ? { refundedTotal: minorUnits(d.refundedAmount) } : {}),
      ...(d.merchantReference ? { merchantReference: d.merchantReference } : {}),
    },
  };
}
