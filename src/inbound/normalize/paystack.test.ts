import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizePaystack } from './paystack.js';
import type { Normalized } from './types.js';

function plain(n: Normalized): unknown {
  if (n.kind !== 'event') return n;
  return {
    kind: 'event',
    event: Object.fromEntries(Object.entries(n.event).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v])),
  };
}

// Shaped after the charge.success example of https://paystack.com/docs/payments/webhooks/
const chargeSuccess = (data: Record<string, unknown> = {}) => ({
  event: 'charge.success',
  data: {
    id: 302961,
    domain: 'live',
    status: 'success',
    reference: 'qTPrJoy9Bx',
    amount: 10000,
    gateway_response: 'Approved by Financial Institution',
    paid_at: '2016-09-30T21:10:19.000Z',
    channel: 'card',
    currency: 'NGN',
    ...data,
  },
});

describe('normalizePaystack', () => {
  it('maps charge.success to captured for data.reference with data.amount as amount and captured total', () => {
    expect(plain(normalizePaystack(chargeSuccess()))).toEqual({
      kind: 'event',
      event: { kind: 'captured', pspReference: 'qTPrJoy9Bx', currency: 'NGN', amount: '10000', capturedTotal: '10000' },
    });
  });

  it('ignores refund.processed with a reason, since it carries no cumulative totals', () => {
    const n = normalizePaystack({ event: 'refund.processed', data: { amount: 10000, currency: 'NGN' } });
    expect(n.kind).toBe('ignored');
    expect(n.kind === 'ignored' && n.reason).toMatch(/cumulative/);
  });

  it('ignores events it does not map', () => {
    expect(normalizePaystack({ event: 'transfer.success', data: { id: 1 } })).toEqual({
      kind: 'ignored',
      reason: 'Paystack event transfer.success is not mapped',
    });
  });

  it('answers invalid for a body without event name or a charge.success without reference or currency', () => {
    expect(normalizePaystack({ data: {} }).kind).toBe('invalid');
    expect(normalizePaystack({ event: 'charge.success', data: { id: 1, amount: 2000, currency: 'NGN' } }).kind).toBe('invalid');
    expect(normalizePaystack({ event: 'charge.success', data: { reference: 'r', amount: 2000 } }).kind).toBe('invalid');
    expect(normalizePaystack(chargeSuccess({ amount: '2000' })).kind).toBe('invalid');
  });

  it('keeps a zero-exponent amount in minor units as the same integer (JPY 1000 stays 1000)', () => {
    expect(plain(normalizePaystack(chargeSuccess({ amount: 1000, currency: 'JPY' })))).toMatchObject({
      event: { currency: 'JPY', amount: '1000', capturedTotal: '1000' },
    });
  });
});
