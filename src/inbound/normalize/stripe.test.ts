import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizeStripe } from './stripe.js';
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
