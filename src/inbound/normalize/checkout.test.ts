import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizeCheckout } from './checkout.js';
import type { Normalized } from './types.js';

function plain(n: Normalized): unknown {
  if (n.kind !== 'event') return n;
  return {
    kind: 'event',
    event: Object.fromEntries(Object.entries(n.event).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v])),
  };
}

// Shaped after https://www.checkout.com/docs/developer-resources/event-notifications/event-types/payment_captured
const event = (type: string, data: Record<string, unknown> = {}) => ({
  id: 'evt_fkfqht6yonme7bk7jawrgzbbxq',
  type,
  version: '1.0.29',
  created_on: '2023-05-24T09:12:32.357Z',
  data: {
    id: 'pay_vti5layihapu5bhbn5tjtk6eem',
    action_id: 'act_uqlj3642dyyuroivzdwfg2fysq',
    reference: 'ORD-5023-4E89',
    amount: 4000,
    currency: 'EUR',
    response_code: '10000',
    balances: {
      total_authorized: 10000,
      total_voided: 0,
      available_to_void: 0,
      total_captured: 7000,
      available_to_capture: 0,
      total_refunded: 2500,
      available_to_refund: 4500,
    },
    ...data,
  },
});

describe('normalizeCheckout', () => {
  it('maps payment_approved to authorized for data.id with the amount and reference', () => {
    const { balances: _b, ...approved } = event('payment_approved', { amount: 10000 }).data;
    expect(plain(normalizeCheckout({ ...event('payment_approved'), data: approved }))).toEqual({
      kind: 'event',
      event: {
        kind: 'authorized',
        pspReference: 'pay_vti5layihapu5bhbn5tjtk6eem',
        currency: 'EUR',
        amount: '10000',
        merchantReference: 'ORD-5023-4E89',
      },
    });
  });

  it('maps payment_captured to captured with balances.total_captured, not the single capture amount', () => {
    expect(plain(normalizeCheckout(event('payment_captured')))).toEqual({
      kind: 'event',
      event: {
        kind: 'captured',
        pspReference: 'pay_vti5layihapu5bhbn5tjtk6eem',
        currency: 'EUR',
        capturedTotal: '7000',
        merchantReference: 'ORD-5023-4E89',
      },
    });
  });

  it('maps payment_refunded to refunded with the cumulative total_refunded and total_captured', () => {
    expect(plain(normalizeCheckout(event('payment_refunded', { amount: 1000 })))).toEqual({
      kind: 'event',
      event: {
        kind: 'refunded',
        pspReference: 'pay_vti5layihapu5bhbn5tjtk6eem',
        currency: 'EUR',
        capturedTotal: '7000',
        refundedTotal: '2500',
        merchantReference: 'ORD-5023-4E89',
      },
    });
  });

  it('maps payment_declined to failed and payment_voided to voided', () => {
    const declined = normalizeCheckout(event('payment_declined'));
    const voided = normalizeCheckout(event('payment_voided'));
    expect(declined.kind === 'event' && declined.event.kind).toBe('failed');
    expect(voided.kind === 'event' && voided.event.kind).toBe('voided');
  });

  it('ignores a capture without balances, because its cumulative total is unknown', () => {
    const { balances: _b, ...data } = event('payment_captured').data;
    const n = normalizeCheckout({ ...event('payment_captured'), data });
    expect(n.kind).toBe('ignored');
  });

  it('ignores declined captures and refunds and types it does not map', () => {
    expect(normalizeCheckout(event('payment_capture_declined'))).toEqual({
      kind: 'ignored',
      reason: 'Checkout.com event type payment_capture_declined is not mapped',
    });
    expect(normalizeCheckout(event('payment_refund_declined')).kind).toBe('ignored');
    expect(normalizeCheckout(event('dispute_won')).kind).toBe('ignored');
  });

  it('answers invalid for a body without type or without a payment data object', () => {
    expect(normalizeCheckout({ id: 'evt_1' }).kind).toBe('invalid');
    expect(normalizeCheckout({ id: 'evt_1', type: 'payment_captured', data: { id: 'pay_1', amount: 2000 } }).kind).toBe('invalid');
  });

  it('keeps a zero-exponent amount in minor units as the same integer (JPY 1000 stays 1000)', () => {
    const n = normalizeCheckout(event('payment_voided', { amount: 1000, currency: 'JPY' }));
    expect(plain(n)).toMatchObject({ event: { currency: 'JPY', amount: '1000' } });
  });
});
