import { describe, expect, it } from 'vitest';
import { STRIPE_EVENT_KINDS } from '../../inbound/normalize/stripe.js';
import { SIMULATED_STRIPE_TYPES } from './stripe.js';

describe('SIMULATED_STRIPE_TYPES', () => {
  it('lists exactly the payment-level Stripe types the normalizer maps', () => {
    expect([...SIMULATED_STRIPE_TYPES].sort()).toEqual(Object.keys(STRIPE_EVENT_KINDS).sort());
  });
});
