import { describe, expect, it } from 'vitest';
import { normalizeStripe, STRIPE_EVENT_KINDS, STRIPE_OPERATION_EVENTS } from '../../inbound/normalize/stripe.js';
import { buildStripeEvent, SIMULATED_STRIPE_TYPES, type SimulatedStripeType, type StripeScenario } from './stripe.js';

/** What the normalizer makes of the simulated event: its kind and, for refunds and disputes, the operation's. */
function normalized(type: SimulatedStripeType, s: StripeScenario = {}) {
  const n = normalizeStripe(buildStripeEvent(type, { paymentIntent: 'pi_sim', amount: 1200, ...s }));
  if (n.kind !== 'event') return n;
  return { kind: n.event.kind, pspReference: n.event.pspReference, operation: n.event.operation?.outcome };
}

describe('SIMULATED_STRIPE_TYPES', () => {
  it('lists exactly the Stripe types the normalizer maps, payment-level and operation-level', () => {
    expect([...SIMULATED_STRIPE_TYPES].sort()).toEqual([...Object.keys(STRIPE_EVENT_KINDS), ...STRIPE_OPERATION_EVENTS].sort());
  });

  it.each([
    ['payment_intent.amount_capturable_updated', 'authorized', undefined],
    ['payment_intent.succeeded', 'captured', undefined],
    ['payment_intent.payment_failed', 'failed', undefined],
    ['payment_intent.canceled', 'voided', undefined],
    ['charge.refunded', 'refunded', undefined],
    ['refund.created', 'refund_pending', 'pending'],
    ['refund.updated', 'refunded', 'succeeded'],
    ['charge.refund.updated', 'refunded', 'succeeded'],
    ['charge.dispute.created', 'dispute_opened', 'open'],
    ['charge.dispute.updated', 'dispute_opened', 'open'],
    ['charge.dispute.closed', 'dispute_lost', 'lost'],
  ] as const)('builds %s, by default, as an event the normalizer maps to %s on the PaymentIntent', (type, kind, outcome) => {
    expect(normalized(type)).toEqual({ kind, pspReference: 'pi_sim', operation: outcome });
  });

  it("carries the refund's and the dispute's own id, amount and status as given", () => {
    const refund = buildStripeEvent('refund.updated', { refund: { id: 're_given', amount: 300, status: 'failed' } });
    expect((refund.data as { object: unknown }).object).toMatchObject({ id: 're_given', object: 'refund', amount: 300, status: 'failed' });
    expect(normalized('refund.updated', { refund: { status: 'failed' } })).toMatchObject({ kind: 'refund_failed', operation: 'failed' });
    expect(normalized('charge.dispute.closed', { dispute: { id: 'dp_given', status: 'won' } })).toMatchObject({
      kind: 'dispute_won',
      operation: 'won',
    });
  });
});
