import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizeRazorpay } from './razorpay.js';
import type { Normalized } from './types.js';

function plain(n: Normalized): unknown {
  if (n.kind !== 'event') return n;
  return {
    kind: 'event',
    event: Object.fromEntries(Object.entries(n.event).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v])),
  };
}

// Shaped after https://razorpay.com/docs/webhooks/payments/ and https://razorpay.com/docs/webhooks/refunds/
const payment = (over: Record<string, unknown> = {}) => ({
  id: 'pay_FPoJKWQQ8lK13n',
  entity: 'payment',
  amount: 500000,
  currency: 'INR',
  status: 'captured',
  order_id: 'order_FPoIeimWki9j8A',
  method: 'card',
  amount_refunded: 0,
  refund_status: null,
  captured: true,
  ...over,
});
const paymentEvent = (event: string, over: Record<string, unknown> = {}) => ({
  entity: 'event',
  account_id: 'acc_E7OQJcEANmBHTC',
  event,
  contains: ['payment'],
  payload: { payment: { entity: payment(over) } },
  created_at: 1597734071,
});
const refundProcessed = (paymentOver: Record<string, unknown>, refundAmount: number) => ({
  ...paymentEvent('refund.processed', paymentOver),
  contains: ['refund', 'payment'],
  payload: {
    refund: {
      entity: {
        id: 'rfnd_FS8TWyPrCsa0OB',
        entity: 'refund',
        amount: refundAmount,
        currency: 'INR',
        payment_id: 'pay_FPoJKWQQ8lK13n',
        status: 'processed',
      },
    },
    payment: { entity: payment(paymentOver) },
  },
});

describe('normalizeRazorpay', () => {
  it('maps payment.authorized to authorized for the payment id with its amount', () => {
    expect(plain(normalizeRazorpay(paymentEvent('payment.authorized', { status: 'authorized', captured: false })))).toEqual({
      kind: 'event',
      event: { kind: 'authorized', pspReference: 'pay_FPoJKWQQ8lK13n', currency: 'INR', amount: '500000' },
    });
  });

  it('maps payment.captured to captured with the payment amount as captured total', () => {
    expect(plain(normalizeRazorpay(paymentEvent('payment.captured')))).toEqual({
      kind: 'event',
      event: { kind: 'captured', pspReference: 'pay_FPoJKWQQ8lK13n', currency: 'INR', amount: '500000', capturedTotal: '500000' },
    });
  });

  it('maps payment.failed to failed', () => {
    const n = normalizeRazorpay(paymentEvent('payment.failed', { status: 'failed', captured: false }));
    expect(n.kind === 'event' && n.event.kind).toBe('failed');
  });

  it('maps refund.processed to refunded with the cumulative amount_refunded, not the single refund amount', () => {
    expect(plain(normalizeRazorpay(refundProcessed({ amount_refunded: 190000 }, 50000)))).toEqual({
      kind: 'event',
      event: {
        kind: 'refunded',
        pspReference: 'pay_FPoJKWQQ8lK13n',
        currency: 'INR',
        amount: '500000',
        capturedTotal: '500000',
        refundedTotal: '190000',
      },
    });
  });

  it('maps the auto-refund of a payment never captured to voided', () => {
    const n = normalizeRazorpay(refundProcessed({ captured: false, status: 'refunded', amount_refunded: 500000 }, 500000));
    expect(n.kind === 'event' && n.event.kind).toBe('voided');
  });

  it('ignores refund.failed and events it does not map', () => {
    expect(normalizeRazorpay(paymentEvent('refund.failed'))).toEqual({
      kind: 'ignored',
      reason: 'Razorpay event refund.failed is not mapped',
    });
    expect(normalizeRazorpay(paymentEvent('order.paid')).kind).toBe('ignored');
  });

  it('answers invalid for a body without event name or without a payment entity', () => {
    expect(normalizeRazorpay({ payload: {} }).kind).toBe('invalid');
    expect(normalizeRazorpay({ event: 'payment.captured', payload: { payment: { entity: { id: 'pay_1', amount: 2000 } } } }).kind).toBe(
      'invalid',
    );
    expect(normalizeRazorpay(null).kind).toBe('invalid');
  });

  it('keeps a zero-exponent amount in minor units as the same integer (JPY 1000 stays 1000)', () => {
    const n = normalizeRazorpay(paymentEvent('payment.captured', { amount: 1000, currency: 'JPY' }));
    expect(plain(n)).toMatchObject({ event: { currency: 'JPY', amount: '1000', capturedTotal: '1000' } });
  });
});
