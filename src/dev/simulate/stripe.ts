import { randomBytes, toHex } from '../../core/crypto.js';

/** The PaymentIntent and Charge event types the simulator builds. */
const PAYMENT_TYPES = [
  'payment_intent.amount_capturable_updated',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.captured',
  'charge.refunded',
] as const;

/** The Refund event types: the object is a Refund (https://docs.stripe.com/api/refunds/object). */
const REFUND_TYPES = ['refund.created', 'refund.updated', 'charge.refund.updated'] as const;

/** The Dispute event types: the object is a Dispute (https://docs.stripe.com/api/disputes/object). */
const DISPUTE_TYPES = ['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed'] as const;

/** The Stripe event types the simulator builds: every type the normalizer maps (a unit test keeps them equal). */
export const SIMULATED_STRIPE_TYPES = [...PAYMENT_TYPES, ...REFUND_TYPES, ...DISPUTE_TYPES] as const;

/** One of {@link SIMULATED_STRIPE_TYPES}. */
export type SimulatedStripeType = (typeof SIMULATED_STRIPE_TYPES)[number];

/** A Refund's `status` (https://docs.stripe.com/api/refunds/object#refund_object-status). */
export const STRIPE_REFUND_STATUSES = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;

/** A Dispute's `status` (https://docs.stripe.com/api/disputes/object#dispute_object-status). */
export const STRIPE_DISPUTE_STATUSES = [
  'warning_needs_response',
  'warning_under_review',
  'warning_closed',
  'needs_response',
  'under_review',
  'won',
  'lost',
] as const;

/** Whether `type` carries a Refund object. */
export const isStripeRefundType = (type: SimulatedStripeType): type is (typeof REFUND_TYPES)[number] =>
  (REFUND_TYPES as readonly string[]).includes(type);

/** Whether `type` carries a Dispute object. */
export const isStripeDisputeType = (type: SimulatedStripeType): type is (typeof DISPUTE_TYPES)[number] =>
  (DISPUTE_TYPES as readonly string[]).includes(type);

/** What varies between simulated events; amounts in minor units. */
export interface StripeScenario {
  /** PaymentIntent id (`pi_…`); one is made up when omitted. */
  paymentIntent?: string;
  amount?: number;
  /** Lower case, as Stripe sends it. */
  currency?: string;
  /** For charge.refunded: the cumulative refunded amount (default: all of it). */
  amountRefunded?: number;
  /**
   * For refund.* and charge.refund.updated: the Refund's own id (`re_…`, made up when omitted),
   * amount (default `amount`) and status (default `pending` for refund.created, else `succeeded`).
   */
  refund?: { id?: string; amount?: number; status?: (typeof STRIPE_REFUND_STATUSES)[number] };
  /**
   * For charge.dispute.*: the Dispute's own id (`dp_…`, made up when omitted), amount (default
   * `amount`) and status (default `needs_response` when created, `under_review` when updated, `lost` when closed).
   */
  dispute?: { id?: string; amount?: number; status?: (typeof STRIPE_DISPUTE_STATUSES)[number] };
  /** For charge.succeeded: false for an authorization captured later (default true). */
  captured?: boolean;
  /** For charge.succeeded and charge.captured: the card's `payment_method_details.card` fields. */
  card?: { fingerprint?: string; country?: string };
  /** Event time; defaults to now. */
  at?: Date;
  /** Stand-in PaymentIntent and Charge objects to start from (e.g. Stripe's published fixtures). */
  base?: { paymentIntent?: Record<string, unknown>; charge?: Record<string, unknown> };
}

const stripeId = (prefix: string): string => `${prefix}_${toHex(randomBytes(12))}`;

/**
 * A Stripe event object (https://docs.stripe.com/api/events/object) of `type` for one
 * PaymentIntent: `payment_intent.*` carry it, `charge.succeeded`, `charge.captured` and `charge.refunded` its Charge
 * (with a card), `refund.*` and
 * `charge.refund.updated` one of its Refunds, `charge.dispute.*` a Dispute. Serialise it once
 * and sign those bytes.
 *
 * @example
 * const body = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { amount: 2000 }));
 */
export function buildStripeEvent(type: SimulatedStripeType, s: StripeScenario = {}): Record<string, unknown> {
  const at = s.at ?? new Date();
  const created = Math.floor(at.getTime() / 1000);
  const pi = s.paymentIntent ?? stripeId('pi');
  const amount = s.amount ?? 2000;
  const currency = s.currency ?? 'usd';
  const piStatus: Record<string, string> = {
    'payment_intent.amount_capturable_updated': 'requires_capture',
    'payment_intent.succeeded': 'succeeded',
    'payment_intent.payment_failed': 'requires_payment_method',
    'payment_intent.canceled': 'canceled',
  };
  let object: Record<string, unknown>;
  if (isStripeRefundType(type)) {
    object = {
      id: s.refund?.id ?? stripeId('re'),
      object: 'refund',
      amount: s.refund?.amount ?? amount,
      balance_transaction: stripeId('txn'),
      charge: stripeId('ch'),
      created,
      currency,
      metadata: {},
      payment_intent: pi,
      reason: 'requested_by_customer',
      status: s.refund?.status ?? (type === 'refund.created' ? 'pending' : 'succeeded'),
    };
  } else if (isStripeDisputeType(type)) {
    const status =
      s.dispute?.status ??
      { 'charge.dispute.created': 'needs_response', 'charge.dispute.updated': 'under_review', 'charge.dispute.closed': 'lost' }[type];
    object = {
      id: s.dispute?.id ?? stripeId('dp'),
      object: 'dispute',
      amount: s.dispute?.amount ?? amount,
      balance_transactions: [],
      charge: stripeId('ch'),
      created,
      currency,
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: pi,
      reason: 'fraudulent',
      status,
    };
  } else if (type === 'charge.succeeded' || type === 'charge.captured') {
    const captured = type === 'charge.captured' || s.captured !== false;
    object = {
      ...(s.base?.charge ?? { object: 'charge', livemode: false, metadata: {} }),
      id: stripeId('ch'),
      object: 'charge',
      amount,
      amount_captured: captured ? amount : 0,
      amount_refunded: 0,
      captured,
      refunded: false,
      currency,
      created,
      payment_intent: pi,
      status: 'succeeded',
      payment_method_details:
        s.card || !s.base?.charge?.payment_method_details
          ? {
              type: 'card',
              card: { brand: 'visa', country: s.card?.country ?? 'US', fingerprint: s.card?.fingerprint ?? 'fp_simulated', last4: '4242' },
            }
          : s.base.charge.payment_method_details,
    };
  } else if (type === 'charge.refunded') {
    const refunded = s.amountRefunded ?? amount;
    object = {
      ...(s.base?.charge ?? { object: 'charge', livemode: false, metadata: {} }),
      id: stripeId('ch'),
      object: 'charge',
      amount,
      amount_captured: amount,
      amount_refunded: refunded,
      captured: true,
      refunded: refunded === amount,
      currency,
      created,
      payment_intent: pi,
      status: 'succeeded',
    };
  } else {
    object = {
      ...(s.base?.paymentIntent ?? { object: 'payment_intent', livemode: false, metadata: {} }),
      id: pi,
      object: 'payment_intent',
      amount,
      amount_capturable: type === 'payment_intent.amount_capturable_updated' ? amount : 0,
      amount_received: type === 'payment_intent.succeeded' ? amount : 0,
      currency,
      created,
      status: piStatus[type],
      canceled_at: type === 'payment_intent.canceled' ? created : null,
      cancellation_reason: type === 'payment_intent.canceled' ? 'requested_by_customer' : null,
      last_payment_error: type === 'payment_intent.payment_failed' ? { type: 'card_error', code: 'card_declined' } : null,
    };
  }
  return {
    id: stripeId('evt'),
    object: 'event',
    api_version: '2024-06-20',
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** The payout event types that queue a report pull (src/inbound/normalize/stripe.ts STRIPE_PAYOUT_EVENTS). */
export const SIMULATED_STRIPE_PAYOUT_TYPES = ['payout.paid', 'payout.reconciliation_completed'] as const;

/**
 * A Stripe event (https://docs.stripe.com/api/events/object) of a paid automatic payout
 * (https://docs.stripe.com/api/payouts/object): `payout.paid` or `payout.reconciliation_completed`. Amount in minor units.
 */
export function buildStripePayoutEvent(
  type: (typeof SIMULATED_STRIPE_PAYOUT_TYPES)[number],
  s: { payoutId?: string; amount?: number; currency?: string; at?: Date } = {},
): Record<string, unknown> {
  const created = Math.floor((s.at ?? new Date()).getTime() / 1000);
  return {
    id: stripeId('evt'),
    object: 'event',
    api_version: '2024-06-20',
    created,
    data: {
      object: {
        id: s.payoutId ?? stripeId('po'),
        object: 'payout',
        amount: s.amount ?? 2000,
        currency: s.currency ?? 'usd',
        automatic: true,
        status: 'paid',
        arrival_date: created,
        created,
        livemode: false,
      },
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}
