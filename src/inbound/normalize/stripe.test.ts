import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizeStripe, normalizeStripeFetched, stripeObjectToFetch } from './stripe.js';
import type { Normalized } from './types.js';

const plain = (n: Normalized): unknown => {
  if (n.kind !== 'event') return n;
  const str = (o: object): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(o).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v && typeof v === 'object' ? str(v) : v]),
    );
  return { kind: 'event', event: str(n.event) };
};

const event = (type: string, object: Record<string, unknown>) => ({ id: 'evt_1', object: 'event', type, data: { object } });
const aRefund = (status: string) => ({
  id: 're_1',
  object: 'refund',
  amount: 400,
  currency: 'usd',
  status,
  charge: 'ch_1',
  payment_intent: 'pi_1',
});
const aDispute = (status: string) => ({
  id: 'dp_1',
  object: 'dispute',
  amount: 1000,
  currency: 'jpy',
  status,
  charge: 'ch_1',
  payment_intent: 'pi_1',
});

describe('normalizeStripe: refunds and disputes as operations', () => {
  it.each([
    ['refund.created', 'pending', 'refund_pending', 'pending'],
    ['refund.updated', 'succeeded', 'refunded', 'succeeded'],
    ['charge.refund.updated', 'failed', 'refund_failed', 'failed'],
    ['refund.updated', 'canceled', 'refund_failed', 'failed'],
  ])('maps %s with status %s to %s: refund re_1, outcome %s, on the PaymentIntent', (type, status, kind, outcome) => {
    expect(plain(normalizeStripe(event(type, aRefund(status))))).toEqual({
      kind: 'event',
      event: { kind, pspReference: 'pi_1', currency: 'USD', operation: { kind: 'refund', reference: 're_1', outcome, amount: '400' } },
    });
  });

  it.each([
    ['charge.dispute.created', 'needs_response', 'dispute_opened', 'open'],
    ['charge.dispute.updated', 'under_review', 'dispute_opened', 'open'],
    ['charge.dispute.closed', 'won', 'dispute_won', 'won'],
    ['charge.dispute.closed', 'warning_closed', 'dispute_won', 'won'],
    ['charge.dispute.closed', 'lost', 'dispute_lost', 'lost'],
  ])('maps %s with status %s to %s (dispute dp_1, outcome %s), JPY amounts unchanged', (type, status, kind, outcome) => {
    expect(plain(normalizeStripe(event(type, aDispute(status))))).toEqual({
      kind: 'event',
      event: { kind, pspReference: 'pi_1', currency: 'JPY', operation: { kind: 'dispute', reference: 'dp_1', outcome, amount: '1000' } },
    });
  });

  it('names the charge as the payment when a refund has no payment_intent', () => {
    const n = normalizeStripe(event('refund.updated', { ...aRefund('succeeded'), payment_intent: null }));
    expect(n.kind === 'event' && n.event.pspReference).toBe('ch_1');
  });

  it('answers invalid, with a reason, for an amount beyond Number.MAX_SAFE_INTEGER and for an unknown currency', () => {
    expect(normalizeStripe(event('refund.updated', { ...aRefund('succeeded'), amount: 2 ** 53 + 2 })).kind).toBe('invalid');
    expect(
      normalizeStripe(event('payment_intent.succeeded', { id: 'pi_1', object: 'payment_intent', amount: 1e300, currency: 'usd' })).kind,
    ).toBe('invalid');
    expect(normalizeStripe(event('charge.dispute.closed', { ...aDispute('lost'), currency: 'zzz' }))).toEqual({
      kind: 'invalid',
      reason: 'invalid currency zzz',
    });
  });
});

describe('normalizeStripe: the payments API operation in the metadata', () => {
  const pi = (metadata: Record<string, string>) => ({
    id: 'pi_7',
    object: 'payment_intent',
    amount: 900,
    amount_received: 900,
    currency: 'eur',
    status: 'succeeded',
    metadata,
  });

  it('carries metadata.switchyard_op as the report operationId, beside the merchant reference', () => {
    const n = normalizeStripe(
      event('payment_intent.succeeded', pi({ switchyard_op: `pop_${'a1'.repeat(16)}`, merchant_reference: 'order-7' })),
    );
    expect(n.kind === 'event' && n.event).toMatchObject({
      pspReference: 'pi_7',
      operationId: `pop_${'a1'.repeat(16)}`,
      merchantReference: 'order-7',
    });
  });

  it('ignores a switchyard_op that is not an operation id', () => {
    const n = normalizeStripe(event('payment_intent.succeeded', pi({ switchyard_op: 'pay_1; drop table' })));
    expect(n.kind === 'event' && n.event).not.toHaveProperty('operationId');
  });
});

describe('verify or fetch: the Stripe object read back in place of the payload', () => {
  const pi = (status: string, extra: Record<string, unknown> = {}) => ({
    id: 'pi_1',
    object: 'payment_intent',
    amount: 2000,
    amount_received: status === 'succeeded' ? 2000 : 0,
    currency: 'usd',
    status,
    metadata: {},
    last_payment_error: null,
    ...extra,
  });

  it.each([
    ['payment_intent.amount_capturable_updated', { type: 'payment_intent', id: 'pi_1' }],
    ['payment_intent.succeeded', { type: 'payment_intent', id: 'pi_1' }],
    ['charge.refunded', { type: 'charge', id: 'ch_1' }],
    ['refund.updated', { type: 'refund', id: 're_1' }],
    ['charge.refund.updated', { type: 'refund', id: 're_1' }],
    ['charge.dispute.closed', { type: 'dispute', id: 'dp_1' }],
  ])('reads the object a %s event carries', (type, ref) => {
    const object =
      ref.type === 'payment_intent'
        ? pi('succeeded')
        : ref.type === 'charge'
          ? { id: 'ch_1', object: 'charge' }
          : ref.type === 'refund'
            ? aRefund('pending')
            : aDispute('lost');
    expect(stripeObjectToFetch(event(type, object))).toEqual(ref);
  });

  it('reads nothing for an event type it does not apply, an object of another type, or an id unfit for a path', () => {
    expect(stripeObjectToFetch(event('customer.created', { id: 'cus_1', object: 'customer' }))).toBeUndefined();
    expect(stripeObjectToFetch(event('payment_intent.created', pi('requires_payment_method')))).toBeUndefined();
    expect(stripeObjectToFetch(event('payment_intent.succeeded', { id: 'ch_1', object: 'charge' }))).toBeUndefined();
    expect(stripeObjectToFetch(event('payment_intent.succeeded', pi('succeeded', { id: '../v1/customers' })))).toBeUndefined();
    expect(stripeObjectToFetch({ not: 'an event' })).toBeUndefined();
  });

  it('applies nothing when the PaymentIntent Stripe holds says nothing happened, whatever the payload claimed', () => {
    const n = normalizeStripeFetched(event('payment_intent.succeeded', pi('succeeded')), pi('requires_payment_method'));
    expect(n.kind).toBe('ignored');
    expect(n.kind === 'ignored' && n.reason).toContain('requires_payment_method');
  });

  it.each([
    ['requires_capture', 'authorized'],
    ['succeeded', 'captured'],
    ['canceled', 'voided'],
  ])('takes the event a PaymentIntent that is %s stands for (%s), not the payload type', (status, kind) => {
    const n = normalizeStripeFetched(event('payment_intent.payment_failed', pi('requires_payment_method')), pi(status));
    expect(n.kind === 'event' && n.event.kind).toBe(kind);
  });

  it('takes the amounts and metadata of the object, not the payload', () => {
    const n = normalizeStripeFetched(
      event(
        'payment_intent.succeeded',
        pi('succeeded', { amount: 999_999, amount_received: 999_999, metadata: { merchant_reference: 'forged' } }),
      ),
      pi('succeeded', { metadata: { merchant_reference: 'order-7' } }),
    );
    expect(plain(n)).toMatchObject({ kind: 'event', event: { kind: 'captured', capturedTotal: '2000', merchantReference: 'order-7' } });
  });

  it('maps a payment that failed at Stripe to failed', () => {
    const n = normalizeStripeFetched(
      event('payment_intent.succeeded', pi('succeeded')),
      pi('requires_payment_method', { last_payment_error: { code: 'card_declined' } }),
    );
    expect(n.kind === 'event' && n.event.kind).toBe('failed');
  });

  it('ignores a charge.refunded whose charge Stripe shows without a refund, and applies the refunded total Stripe shows', () => {
    const charge = (refunded: number) => ({
      id: 'ch_1',
      object: 'charge',
      amount: 2000,
      amount_captured: 2000,
      amount_refunded: refunded,
      currency: 'usd',
      payment_intent: 'pi_1',
    });
    expect(normalizeStripeFetched(event('charge.refunded', charge(2000)), charge(0)).kind).toBe('ignored');
    expect(plain(normalizeStripeFetched(event('charge.refunded', charge(2000)), charge(500)))).toMatchObject({
      event: { kind: 'refunded', refundedTotal: '500', capturedTotal: '2000' },
    });
  });

  it("takes a refund's and a dispute's outcome from the object's status", () => {
    const refund = normalizeStripeFetched(event('refund.updated', aRefund('succeeded')), aRefund('failed'));
    expect(refund.kind === 'event' && refund.event.kind).toBe('refund_failed');
    const dispute = normalizeStripeFetched(event('charge.dispute.closed', aDispute('lost')), aDispute('won'));
    expect(dispute.kind === 'event' && dispute.event.kind).toBe('dispute_won');
  });
});

describe('normalizeStripe: payouts', () => {
  const payoutEvent = (type: string, object: Record<string, unknown>) => ({ id: 'evt_po', type, data: { object } });

  it('answers payout.paid and payout.reconciliation_completed of an automatic payout as a report to pull', () => {
    for (const type of ['payout.paid', 'payout.reconciliation_completed']) {
      expect(normalizeStripe(payoutEvent(type, { id: 'po_1', object: 'payout', automatic: true, amount: 100 }))).toEqual({
        kind: 'report',
        report: { kind: 'stripe_payout', payoutId: 'po_1' },
      });
    }
  });

  it('ignores a manual payout (Stripe lists balance transactions by payout for automatic payouts only), and refuses a body that is no payout', () => {
    expect(normalizeStripe(payoutEvent('payout.paid', { id: 'po_2', object: 'payout', automatic: false }))).toEqual({
      kind: 'ignored',
      reason: 'payout po_2 is a manual payout: no report to pull',
    });
    expect(normalizeStripe(payoutEvent('payout.paid', { id: 'ch_1', object: 'charge' }))).toMatchObject({ kind: 'invalid' });
  });
});
