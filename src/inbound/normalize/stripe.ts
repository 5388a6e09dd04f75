import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import { isOperationId, OPERATION_METADATA_KEY } from '../../core/payments/operation-ids.js';
import type { PspObjectRef, PspObjectType } from '../../core/psp-objects.js';
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

// https://docs.stripe.com/api/payouts/object
const payout = z.object({ id: z.string().min(1).max(255), object: z.literal('payout'), automatic: z.boolean().optional() });

/**
 * Stripe events saying a payout's balance transactions are final: each queues a pull of them as the payout's report
 * (README "Reconcile"). `payout.reconciliation_completed` is the later, surer one; either may come first or alone.
 */
export const STRIPE_PAYOUT_EVENTS = ['payout.paid', 'payout.reconciliation_completed'] as const;

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
  if ((STRIPE_PAYOUT_EVENTS as readonly string[]).includes(e.data.type)) {
    const po = payout.safeParse(e.data.data.object);
    if (!po.success) return { kind: 'invalid', reason: `${e.data.type} without a valid payout object` };
    // Stripe lists a payout's balance transactions for automatic payouts only (the `payout` filter of /v1/balance_transactions)
    if (po.data.automatic === false) return { kind: 'ignored', reason: `payout ${po.data.id} is a manual payout: no report to pull` };
    return { kind: 'report', report: { kind: 'stripe_payout', payoutId: po.data.id } };
  }
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

/** The Stripe object type each applied event type carries in `data.object`. */
function objectTypeOf(type: string): PspObjectType | undefined {
  if (type.startsWith('payment_intent.')) return type in STRIPE_EVENT_KINDS ? 'payment_intent' : undefined;
  if (type === 'charge.refunded') return 'charge';
  if (!(STRIPE_OPERATION_EVENTS as readonly string[]).includes(type)) return undefined;
  return type.startsWith('charge.dispute.') ? 'dispute' : 'refund';
}

/** A Stripe object id as the API takes it in a path (`pi_…`, `ch_…`, `re_…`, `dp_…`). */
const STRIPE_ID = /^[A-Za-z0-9_]{1,255}$/;

/**
 * Verify or fetch: the object a `trust: fetch` source reads from Stripe for this event, by the type and id in
 * its `data.object`; undefined for an event Switchyard does not apply, or a body without a readable object (it
 * is processed from its payload, and so ignored or failed, without a call).
 */
export function stripeObjectToFetch(body: unknown): PspObjectRef | undefined {
  const e = event.safeParse(body);
  if (!e.success) return undefined;
  const type = objectTypeOf(e.data.type);
  const { object, id } = e.data.data.object;
  if (!type || object !== type || typeof id !== 'string' || !STRIPE_ID.test(id)) return undefined;
  return { type, id };
}

// The event type a PaymentIntent's current status stands for (https://docs.stripe.com/payments/paymentintents/lifecycle).
function paymentIntentEventType(pi: { status?: unknown; last_payment_error?: unknown }): keyof typeof STRIPE_EVENT_KINDS | undefined {
  switch (pi.status) {
    case 'requires_capture':
      return 'payment_intent.amount_capturable_updated';
    case 'succeeded':
      return 'payment_intent.succeeded';
    case 'canceled':
      return 'payment_intent.canceled';
    case 'requires_payment_method':
      return pi.last_payment_error ? 'payment_intent.payment_failed' : undefined;
    default:
      return undefined;
  }
}

/**
 * Verify or fetch: normalizes a Stripe event with `object`, its `data.object` as Stripe answers it now
 * ({@link stripeObjectToFetch}), in place of the payload's. A PaymentIntent's event type follows its current
 * status, so a payload claiming `payment_intent.succeeded` for one that `requires_payment_method` applies
 * nothing (`ignored`, with the status in the reason); a charge that Stripe shows without refunds is ignored;
 * refunds and disputes take their outcome from the object's status, as always.
 */
export function normalizeStripeFetched(body: unknown, object: unknown): Normalized {
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: 'not a Stripe event object' };
  const fetched = z.record(z.string(), z.unknown()).safeParse(object);
  if (!fetched.success) return { kind: 'invalid', reason: 'Stripe answered the read with something other than an object' };
  let type = e.data.type;
  if (type.startsWith('payment_intent.')) {
    const current = paymentIntentEventType(fetched.data);
    if (!current) {
      return {
        kind: 'ignored',
        reason: `Stripe says payment_intent ${String(fetched.data.id)} is ${String(fetched.data.status)}: nothing to apply (the event said ${type})`,
      };
    }
    type = current;
  } else if (type === 'charge.refunded' && !(typeof fetched.data.amount_refunded === 'number' && fetched.data.amount_refunded > 0)) {
    return {
      kind: 'ignored',
      reason: `Stripe says charge ${String(fetched.data.id)} has no refund: nothing to apply (the event said ${type})`,
    };
  }
  return normalizeStripe({ ...e.data, type, data: { object: fetched.data } });
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
