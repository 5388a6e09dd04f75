import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { stripeForm, stripePaymentEvent } from './stripe.js';

const pi = (over: Record<string, unknown>) =>
  ({ id: 'pi_1', object: 'payment_intent', amount: 2000, currency: 'usd', status: 'requires_payment_method', ...over }) as Parameters<
    typeof stripePaymentEvent
  >[0];

describe('stripeForm', () => {
  it('encodes nested metadata and arrays the way Stripe reads them, leaving out undefined', () => {
    expect(stripeForm({ amount: '2000', confirm: undefined, metadata: { order: '42', none: undefined }, expand: ['latest_charge'] })).toBe(
      'amount=2000&metadata%5Border%5D=42&expand%5B%5D=latest_charge',
    );
  });
});

describe('stripePaymentEvent', () => {
  it('maps PaymentIntent statuses to payment events with cumulative totals', () => {
    expect(stripePaymentEvent(pi({ status: 'requires_capture' }))).toEqual({ kind: 'authorized', amount: new Decimal(2000) });
    expect(stripePaymentEvent(pi({ status: 'succeeded', amount_received: 1500 }))).toEqual({
      kind: 'captured',
      amount: new Decimal(2000),
      capturedTotal: new Decimal(1500),
    });
    expect(stripePaymentEvent(pi({ status: 'succeeded', amount_received: 1500, latest_charge: { amount_refunded: 500 } }))).toEqual({
      kind: 'refunded',
      amount: new Decimal(2000),
      capturedTotal: new Decimal(1500),
      refundedTotal: new Decimal(500),
    });
    expect(stripePaymentEvent(pi({ status: 'canceled' }))?.kind).toBe('voided');
    expect(stripePaymentEvent(pi({ last_payment_error: { code: 'card_declined' } }))?.kind).toBe('failed');
    expect(stripePaymentEvent(pi({}))).toBeUndefined();
    expect(stripePaymentEvent(pi({ status: 'processing' }))).toBeUndefined();
  });
});
