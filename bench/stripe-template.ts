// The Stripe event the inbound and end-to-end benchmarks post.
import { buildStripeEvent } from '../src/dev/simulate/stripe.js';

/** A Stripe payment_intent.succeeded of about 1.5 KB, as Stripe serialises it, with `__EVT__` and `__PI__` placeholders. */
export function stripeTemplate(): string {
  const event = buildStripeEvent('payment_intent.succeeded', {
    paymentIntent: '__PI__',
    amount: 2000,
    base: {
      paymentIntent: {
        object: 'payment_intent',
        livemode: false,
        description: 'Order 4242 – bench',
        metadata: { order_id: 'ord_0000000000000000', customer_email: 'bench@example.com', cart: 'x'.repeat(885) },
      },
    },
  });
  event.id = '__EVT__';
  return JSON.stringify(event);
}
