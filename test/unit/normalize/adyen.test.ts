import { readFileSync } from 'node:fs';
import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { normalizeAdyen } from '../../../src/inbound/normalize/adyen.js';
import type { Normalized } from '../../../src/inbound/normalize/types.js';

/** The first NotificationRequestItem of a shared Adyen fixture: what providers.ts stores. */
function fixtureItem(name: string): Record<string, unknown> {
  const body = JSON.parse(readFileSync(new URL(`../../fixtures/adyen/${name}.json`, import.meta.url), 'utf8')) as {
    notificationItems: { NotificationRequestItem: Record<string, unknown> }[];
  };
  return body.notificationItems[0]!.NotificationRequestItem;
}

/** Decimals as strings, so expectations read as plain values. */
function plain(n: Normalized): unknown {
  if (n.kind !== 'event') return n;
  return { kind: 'event', event: Object.fromEntries(Object.entries(n.event).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v])) };
}

describe('normalizeAdyen', () => {
  it('maps a successful AUTHORISATION to authorized for its pspReference with amount and merchantReference', () => {
    expect(plain(normalizeAdyen(fixtureItem('authorisation-true')))).toEqual({
      kind: 'event',
      event: { kind: 'authorized', pspReference: '123456789', currency: 'EUR', amount: '10100', merchantReference: '8313842560770001' },
    });
  });

  it('maps an AUTHORISATION with success false to failed', () => {
    const n = normalizeAdyen({ ...fixtureItem('authorisation-true'), success: 'false' });
    expect(n.kind === 'event' && n.event.kind).toBe('failed');
  });

  it('maps a successful CAPTURE to captured on the originalReference with the captured amount as total', () => {
    expect(plain(normalizeAdyen(fixtureItem('capture-true')))).toEqual({
      kind: 'event',
      event: { kind: 'captured', pspReference: 'ORIGINAL_PSP', currency: 'USD', capturedTotal: '23623', merchantReference: '00000001' },
    });
  });

  it('maps a successful REFUND to refunded with the refund amount as both refunded and captured total', () => {
    expect(plain(normalizeAdyen(fixtureItem('refund-true')))).toEqual({
      kind: 'event',
      event: {
        kind: 'refunded',
        pspReference: 'ORIGINAL_PSP',
        currency: 'EUR',
        capturedTotal: '1500',
        refundedTotal: '1500',
        merchantReference: 'payment-2017-1-17-11-refund',
      },
    });
  });

  it('maps a successful CANCELLATION to voided on the originalReference', () => {
    const n = normalizeAdyen({ ...fixtureItem('capture-true'), eventCode: 'CANCELLATION' });
    expect(plain(n)).toEqual({ kind: 'event', event: { kind: 'voided', pspReference: 'ORIGINAL_PSP', currency: 'USD', merchantReference: '00000001' } });
  });

  it('accepts success as a JSON boolean', () => {
    const n = normalizeAdyen({ ...fixtureItem('capture-true'), success: true });
    expect(n.kind === 'event' && n.event.kind).toBe('captured');
  });

  it.each([
    ['CAPTURE with success false', { eventCode: 'CAPTURE', success: 'false' }],
    ['REFUND with success false', { eventCode: 'REFUND', success: 'false' }],
    ['CAPTURE_FAILED', { eventCode: 'CAPTURE_FAILED' }],
    ['REFUND_FAILED', { eventCode: 'REFUND_FAILED' }],
  ])('ignores a failed operation (%s) with a reason', (_name, patch) => {
    const n = normalizeAdyen({ ...fixtureItem('capture-true'), ...patch });
    expect(n.kind).toBe('ignored');
    expect(n.kind === 'ignored' && n.reason).toMatch(/not mapped/);
  });

  it('ignores an eventCode it does not map', () => {
    expect(normalizeAdyen({ ...fixtureItem('capture-true'), eventCode: 'REPORT_AVAILABLE' })).toEqual({
      kind: 'ignored',
      reason: 'Adyen eventCode REPORT_AVAILABLE is not mapped',
    });
  });

  it('answers invalid for an item without amount, and for a modification without originalReference', () => {
    const { amount: _amount, ...noAmount } = fixtureItem('capture-true');
    expect(normalizeAdyen(noAmount).kind).toBe('invalid');
    const { originalReference: _ref, ...noRef } = fixtureItem('refund-true');
    expect(normalizeAdyen(noRef).kind).toBe('invalid');
    expect(normalizeAdyen('not an object').kind).toBe('invalid');
  });

  it('answers invalid for a fractional amount rather than rounding it', () => {
    expect(normalizeAdyen({ ...fixtureItem('capture-true'), amount: { value: 10.5, currency: 'USD' } }).kind).toBe('invalid');
  });

  it('keeps a zero-exponent amount in minor units as the same integer (JPY 1000 stays 1000)', () => {
    const n = normalizeAdyen({ ...fixtureItem('authorisation-true'), amount: { value: 1000, currency: 'JPY' } });
    expect(plain(n)).toMatchObject({ event: { currency: 'JPY', amount: '1000' } });
  });
});
