import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { Normalized, NormalizedEvent } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// https://docs.stripe.com/api/payment_intents/object
const paymentIntent = z.object({
  id: z.string().min(1),
  object: z.literal('payment_intent'),
  amount,
  amount_received: amount.optional(),
  amount_capturable: amount.optional(),
  currency: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
});

// https://docs.stripe.com/api/charges/object
const charge = z.object({
  id: z.string().min(1),
  object: z.literal('charge'),
  amount,
  amount_captured: amount,
  amount_refunded: amount,
  currency: z.string(),
  payment_intent: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).optional(),
});

const event = z.object({
  id: z.string(),
  type: z.string(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** The Stripe event types Switchyard applies, and what each means for the payment. */
export const STRIPE_EVENT_KINDS = {
  'payment_intent.amount_capturable_updated': 'authorized',
  'payment_intent.succeeded': 'captured',
  'payment_intent.payment_failed': 'failed',
  'payment_intent.canceled': 'voided',
  'charge.refunded': 'refunded',
} as const;

/**
 * Maps a Stripe event (https://docs.stripe.com/api/events/types) to a NormalizedEvent.
 * The payment is the PaymentIntent: its id is the PSP reference, also for
 * `charge.refunded` (the charge's `payment_intent`). Totals are Stripe's cumulative
 * `amount_received`, `amount_captured` and `amount_refunded`. `metadata.merchant_reference`
 * becomes the payment's merchantReference.
 */
export function normalizeStripe(body: unknown): Normalized {
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: 'not a Stripe event object' };
  const kind = STRIPE_EVENT_KINDS[e.data.type as keyof typeof STRIPE_EVENT_KINDS];
  if (!kind) return { kind: 'ignored', reason: `Stripe event type ${e.data.type} is not mapped` };

  if (kind === 'refunded') {
    const ch = charge.safeParse(e.data.data.object);
    if (!ch.success) return { kind: 'invalid', reason: `${e.data.type} without a valid charge object` };
    const currency = normalizeCurrency(ch.data.currency);
    if (!currency) return { kind: 'invalid', reason: `invalid currency ${ch.data.currency}` };
    return withReference(ch.data.metadata, {
      kind,
      pspReference: ch.data.payment_intent ?? ch.data.id,
      currency,
      amount: minorUnits(ch.data.amount),
      capturedTotal: minorUnits(ch.data.amount_captured),
      refundedTotal: minorUnits(ch.data.amount_refunded),
    });
  }

  const pi = paymentIntent.safeParse(e.data.data.object);
  if (!pi.success) return { kind: 'invalid', reason: `${e.data.type} without a valid payment_intent object` };
  const currency = normalizeCurrency(pi.data.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${pi.data.currency}` };
  return withReference(pi.data.metadata, {
    kind,
    pspReference: pi.data.id,
    currency,
    amount: minorUnits(pi.data.amount),
    ...(kind === 'captured' ? { capturedTotal: minorUnits(pi.data.amount_received ?? pi.data.amount) } : {}),
  });
}

function withReference(metadata: Record<string, string> | undefined, ev: NormalizedEvent): Normalized {
  const ref = metadata?.merchant_reference;
  return { kind: 'event', event: ref ? { ...ev, merchantReference: ref } : ev };
}
