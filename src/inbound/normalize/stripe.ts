import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import { isOperationId, OPERATION_METADATA_KEY } from '../../core/payments/operation-ids.js';
import { stripeRiskFacts } from './risk-facts.js';
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
  captured: z.boolean().optional(),
  payment_intent: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).optional(),
});

// https://docs.stripe.com/api/refunds/object
const refund = z.object({
  id: z.string().min(1).max(255),
  object: z.literal('refund'),
  amount,
  currency: z.string(),
  status: z.string().nullish(),
  charge: z.string().nullish(),
  payment_intent: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});

// https://docs.stripe.com/api/disputes/object
const dispute = z.object({
  id: z.string().min(1).max(255),
  object: z.literal('dispute'),
  amount,
  currency: z.string(),
  status: z.string(),
  charge: z.string().nullish(),
  payment_intent: z.string().nullish(),
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
  // the Charge carries the card (`payment_method_details`) that the PaymentIntent names only by `latest_charge` id;
  // `captured: false` (a separate capture) makes charge.succeeded an authorization
  'charge.succeeded': 'captured',
  'charge.captured': 'captured',
  'charge.refunded': 'refunded',
} as const;

/**
 * The operation-level Stripe event types Switchyard applies: refunds by their own `re_` id
 * and disputes by their own `dp_` id, on the PaymentIntent (else the charge) they belong to.
 * A refund's `status` gives its outcome (pending / requires_action → pending, succeeded,
 * failed / canceled → failed: a refund that fails after Stripe counted it is reversed).
 * A dispute is open until `charge.dispute.closed` (or an update) says `won`
 * (`warning_closed` too: an inquiry closed without a chargeback) or `lost`.
 */
export const STRIPE_OPERATION_EVENTS = [
  'refund.created',
  'refund.updated',
  'charge.refund.updated',
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
] as const;

/**
 * Maps a Stripe event (https://docs.stripe.com/api/events/types) to a NormalizedEvent.
 * The payment is the PaymentIntent: its id is the PSP reference, also for
 * `charge.succeeded`, `charge.captured` and `charge.refunded` (the charge's `payment_intent`). Totals are Stripe's
 * cumulative `amount_received`, `amount_captured` and `amount_refunded`. `metadata.merchant_reference`
 * becomes the payment's merchantReference.
 */
export function normalizeStripe(body: unknown): Normalized {
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: 'not a Stripe event object' };
  if ((STRIPE_OPERATION_EVENTS as readonly string[]).includes(e.data.type))
    return normalizeStripeOperation(e.data.type, e.data.data.object);
  const kind = STRIPE_EVENT_KINDS[e.data.type as keyof typeof STRIPE_EVENT_KINDS];
  if (!kind) return { kind: 'ignored', reason: `Stripe event type ${e.data.type} is not mapped` };

  if (e.data.type === 'charge.succeeded' || e.data.type === 'charge.captured') {
    const ch = charge.safeParse(e.data.data.object);
    if (!ch.success) return { kind: 'invalid', reason: `${e.data.type} without a valid charge object` };
    const currency = normalizeCurrency(ch.data.currency);
    if (!currency) return { kind: 'invalid', reason: `invalid currency ${ch.data.currency}` };
    const riskFacts = stripeRiskFacts(e.data.data.object);
    const authorizedOnly = ch.data.captured === false || ch.data.amount_captured === 0;
    return withReference(ch.data.metadata, {
      kind: authorizedOnly ? 'authorized' : 'captured',
      ...(riskFacts ? { riskFacts } : {}),
      pspReference: ch.data.payment_intent ?? ch.data.id,
      currency,
      amount: minorUnits(ch.data.amount),
      ...(authorizedOnly ? {} : { capturedTotal: minorUnits(ch.data.amount_captured) }),
    });
  }

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
  const riskFacts = stripeRiskFacts(e.data.data.object);
  return withReference(pi.data.metadata, {
    kind,
    ...(riskFacts ? { riskFacts } : {}),
    pspReference: pi.data.id,
    currency,
    amount: minorUnits(pi.data.amount),
    ...(kind === 'captured' ? { capturedTotal: minorUnits(pi.data.amount_received ?? pi.data.amount) } : {}),
  });
}

function normalizeStripeOperation(type: string, object: unknown): Normalized {
  if (type.startsWith('charge.dispute.')) {
    const dp = dispute.safeParse(object);
    if (!dp.success) return { kind: 'invalid', reason: `${type} without a valid dispute object` };
    const currency = normalizeCurrency(dp.data.currency);
    if (!currency) return { kind: 'invalid', reason: `invalid currency ${dp.data.currency}` };
    const payment = dp.data.payment_intent ?? dp.data.charge;
    if (!payment) return { kind: 'invalid', reason: `${type}: the dispute names neither a payment_intent nor a charge` };
    const status = dp.data.status;
    const outcome = status === 'lost' ? 'lost' : status === 'won' || status === 'warning_closed' ? 'won' : 'open';
    const kind = ({ open: 'dispute_opened', won: 'dispute_won', lost: 'dispute_lost' } as const)[outcome];
    return {
      kind: 'event',
      event: {
        kind,
        pspReference: payment,
        currency,
        operation: { kind: 'dispute', reference: dp.data.id, outcome, amount: minorUnits(dp.data.amount) },
      },
    };
  }
  const re = refund.safeParse(object);
  if (!re.success) return { kind: 'invalid', reason: `${type} without a valid refund object` };
  const currency = normalizeCurrency(re.data.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${re.data.currency}` };
  const payment = re.data.payment_intent ?? re.data.charge;
  if (!payment) return { kind: 'invalid', reason: `${type}: the refund names neither a payment_intent nor a charge` };
  const status = re.data.status ?? 'pending';
  const outcome = status === 'succeeded' ? 'succeeded' : status === 'failed' || status === 'canceled' ? 'failed' : 'pending';
  const kind = ({ pending: 'refund_pending', succeeded: 'refunded', failed: 'refund_failed' } as const)[outcome];
  return withReference(re.data.metadata ?? undefined, {
    kind,
    pspReference: payment,
    currency,
    operation: { kind: 'refund', reference: re.data.id, outcome, amount: minorUnits(re.data.amount) },
  });
}

function withReference(metadata: Record<string, string> | undefined, ev: NormalizedEvent): Normalized {
  const ref = metadata?.merchant_reference;
  const op = metadata?.[OPERATION_METADATA_KEY];
  return {
    kind: 'event',
    event: { ...ev, ...(ref ? { merchantReference: ref } : {}), ...(op && isOperationId(op) ? { operationId: op } : {}) },
  };
}
