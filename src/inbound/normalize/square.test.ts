import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizeSquare } from './square.js';
import type { Normalized } from './types.js';

function plain(n: Normalized): unknown {
  if (n.kind !== 'event') return n;
  return {
    kind: 'event',
    event: Object.fromEntries(Object.entries(n.event).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v])),
  };
}

// Shaped after https://developer.squareup.com/reference/square/payments-api/webhooks/payment.updated
const paymentEvent = (payment: Record<string, unknown> = {}, type = 'payment.updated') => ({
  merchant_id: 'ML82H4QPKMGXY',
  type,
  event_id: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc',
  created_at: '2026-05-20T14:25:28.000Z',
  data: {
    type: 'payment',
    id: 'KkAkhdMsgzn59SM8A89WgKwekxLZY',
    object: {
      payment: {
        id: 'KkAkhdMsgzn59SM8A89WgKwekxLZY',
        amount_money: { amount: 2000, currency: 'USD' },
        total_money: { amount: 2200, currency: 'USD' },
        status: 'COMPLETED',
        source_type: 'CARD',
        location_id: 'L88917AVBK2S5',
        order_id: 'CAISENgvhpdP05f1DWG9H8yMn4kZY',
        reference_id: 'order-42',
        ...payment,
      },
    },
  },
});

describe('normalizeSquare', () => {
  it('maps a COMPLETED payment to captured with total_money as captured total and reference_id as merchant reference', () => {
    expect(plain(normalizeSquare(paymentEvent()))).toEqual({
      kind: 'event',
      event: {
        kind: 'captured',
        pspReference: 'KkAkhdMsgzn59SM8A89WgKwekxLZY',
        currency: 'USD',
        amount: '2200',
        capturedTotal: '2200',
        merchantReference: 'order-42',
      },
    });
  });

  it('maps a COMPLETED payment with refunded_money to refunded with the cumulative refunded total', () => {
    expect(plain(normalizeSquare(paymentEvent({ refunded_money: { amount: 700, currency: 'USD' } })))).toEqual({
      kind: 'event',
      event: {
        kind: 'refunded',
        pspReference: 'KkAkhdMsgzn59SM8A89WgKwekxLZY',
        currency: 'USD',
        amount: '2200',
        capturedTotal: '2200',
        refundedTotal: '700',
        merchantReference: 'order-42',
      },
    });
  });

  it.each([
    ['APPROVED', 'authorized'],
    ['FAILED', 'failed'],
    ['CANCELED', 'voided'],
  ])('maps payment status %s to %s', (status, kind) => {
    const n = normalizeSquare(paymentEvent({ status }, 'payment.created'));
    expect(n.kind === 'event' && n.event.kind).toBe(kind);
  });

  it('ignores a PENDING payment, refund events and types it does not map', () => {
    expect(normalizeSquare(paymentEvent({ status: 'PENDING' }))).toEqual({
      kind: 'ignored',
      reason: 'Square payment status PENDING is not mapped',
    });
    expect(normalizeSquare({ type: 'refund.updated', event_id: 'e', data: {} }).kind).toBe('ignored');
    expect(normalizeSquare({ type: 'order.updated', event_id: 'e', data: {} }).kind).toBe('ignored');
  });

  it('answers invalid for a body without type or a payment event without a payment object', () => {
    expect(normalizeSquare({ event_id: 'e' }).kind).toBe('invalid');
    expect(
      normalizeSquare({ merchant_id: 'M1', type: 'payment.updated', event_id: 'a8d6c1f4', data: { id: 'P1', amount: 2000 } }).kind,
    ).toBe('invalid');
  });

  it('keeps a zero-exponent amount in minor units as the same integer (JPY 1000 stays 1000)', () => {
    const n = normalizeSquare(
      paymentEvent({ amount_money: { amount: 1000, currency: 'JPY' }, total_money: { amount: 1000, currency: 'JPY' } }),
    );
    expect(plain(n)).toMatchObject({ event: { currency: 'JPY', amount: '1000', capturedTotal: '1000' } });
  });
});
