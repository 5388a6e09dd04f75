import { randomBytes, toHex } from '../../core/crypto.js';

/** The Stripe event types the simulator builds: those the normalizer maps (a unit test keeps them equal). */
export const SIMULATED_STRIPE_TYPES = [
  'payment_intent.amount_capturable_updated',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.refunded',
] as const;

/** One of {@link SIMULATED_STRIPE_TYPES}. */
export type SimulatedStripeType = (typeof SIMULATED_STRIPE_TYPES)[number];

/** What varies between simulated events; amounts in minor units. */
export interface StripeScenario {
  /** PaymentIntent id (`pi_…`); one is made up when omitted. */
  paymentIntent?: string;
  amount?: number;
  /** Lower case, as Stripe sends it. */
  currency?: string;
  /** For charge.refunded: the cumulative refunded amount (default: all of it). */
  amountRefunded?: number;
  /** Event time; defaults to now. */
  at?: Date;
  /** Stand-in PaymentIntent and Charge objects to start from (e.g. Stripe's published fixtures). */
  base?: { paymentIntent?: Record<string, unknown>; charge?: Record<string, unknown> };
}

const stripeId = (prefix: string): string => `${prefix}_${toHex(randomBytes(12))}`;

/**
 * A Stripe event object (https://docs.stripe.com/api/events/object) of `type` for one
 * PaymentIntent: `payment_intent.*` carry it, `charge.refunded` its Charge. Serialise it
 * once and sign those bytes.
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
  if (type === 'charge.refunded') {
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
