import { describe, expect, it } from 'vitest';
import { stripeRiskFacts } from './risk-facts.js';

describe('stripeRiskFacts', () => {
  it('reads a Charge’s card, billing e-mail, customer and metadata', () => {
    expect(
      stripeRiskFacts({
        object: 'charge',
        customer: 'cus_1',
        metadata: { order: '42', n: 3 },
        billing_details: { email: 'b@example.com' },
        payment_method_details: { type: 'card', card: { fingerprint: 'fp_1', country: 'de', iin: '42424242' } },
      }),
    ).toEqual({
      paymentMethodType: 'card',
      cardFingerprint: 'fp_1',
      cardCountry: 'DE',
      cardBin: '424242',
      customerId: 'cus_1',
      customerEmail: 'b@example.com',
      metadata: { order: '42' },
    });
  });

  it('reads a PaymentIntent’s expanded latest_charge and receipt_email; nothing known is undefined', () => {
    expect(
      stripeRiskFacts({
        object: 'payment_intent',
        receipt_email: 'r@example.com',
        customer: { id: 'cus_2' },
        latest_charge: { payment_method_details: { type: 'card', card: { fingerprint: 'fp_2', country: 'XYZ' } } },
      }),
    ).toEqual({ paymentMethodType: 'card', cardFingerprint: 'fp_2', customerId: 'cus_2', customerEmail: 'r@example.com' });
    expect(stripeRiskFacts({ object: 'payment_intent', latest_charge: 'ch_1' })).toBeUndefined();
  });

  it('reads an expanded payment_method, else the only payment_method_types entry', () => {
    expect(
      stripeRiskFacts({ object: 'payment_intent', payment_method: { type: 'card', card: { fingerprint: 'fp_3', country: 'fr' } } }),
    ).toEqual({ paymentMethodType: 'card', cardFingerprint: 'fp_3', cardCountry: 'FR' });
    expect(stripeRiskFacts({ object: 'payment_intent', payment_method_types: ['sepa_debit'] })).toEqual({
      paymentMethodType: 'sepa_debit',
    });
    expect(stripeRiskFacts({ object: 'payment_intent', payment_method_types: ['card', 'link'] })).toBeUndefined();
  });
});
