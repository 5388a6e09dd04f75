import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { fixtureText } from '../../../test/node-helpers.js';
import { normalizeAdyen } from './adyen.js';
import type { Normalized } from './types.js';

/** The first NotificationRequestItem of a shared Adyen fixture: what providers.ts stores. */
function fixtureItem(name: string): Record<string, unknown> {
  const body = JSON.parse(fixtureText(`adyen/${name}.json`)) as {
    notificationItems: { NotificationRequestItem: Record<string, unknown> }[];
  };
  return body.notificationItems[0]!.NotificationRequestItem;
}

/** Decimals as strings, so expectations read as plain values. */
function plain(n: Normalized): unknown {
  if (n.kind !== 'event') return n;
  const str = (o: object): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(o).map(([k, v]) => [k, v instanceof Decimal ? v.toString() : v && typeof v === 'object' ? str(v) : v]),
    );
  return { kind: 'event', event: str(n.event) };
}

describe('normalizeAdyen', () => {
  it('maps a successful AUTHORISATION to authorized for its pspReference with amount and merchantReference', () => {
    expect(plain(normalizeAdyen(fixtureItem('authorisation-true')))).toEqual({
      kind: 'event',
      event: {
        kind: 'authorized',
        pspReference: '123456789',
        currency: 'EUR',
        amount: '10100',
        merchantReference: '8313842560770001',
        riskFacts: { paymentMethodType: 'visa' },
      },
    });
  });

  it('carries additionalData card, shopper and metadata fields as risk facts', () => {
    const item = {
      ...fixtureItem('authorisation-true'),
      additionalData: {
        alias: 'H167852639363479',
        cardBin: '411111',
        issuerCountry: 'nl',
        shopperReference: 'cust-9',
        shopperEmail: 'a@example.com',
        shopperIP: '192.0.2.7',
        'metadata.channel': 'web',
      },
    };
    const n = normalizeAdyen(item);
    expect(n.kind === 'event' && n.event.riskFacts).toEqual({
      paymentMethodType: 'visa',
      cardFingerprint: 'H167852639363479',
      cardCountry: 'NL',
      cardBin: '411111',
      customerId: 'cust-9',
      customerEmail: 'a@example.com',
      ip: '192.0.2.7',
      metadata: { channel: 'web' },
    });
  });

  it('maps an AUTHORISATION with success false to failed', () => {
    const n = normalizeAdyen({ ...fixtureItem('authorisation-true'), success: 'false' });
    expect(n.kind === 'event' && n.event.kind).toBe('failed');
  });

  it('maps a successful CAPTURE to a capture operation with its own pspReference on the originalReference payment', () => {
    expect(plain(normalizeAdyen(fixtureItem('capture-true')))).toEqual({
      kind: 'event',
      event: {
        kind: 'captured',
        pspReference: 'ORIGINAL_PSP',
        currency: 'USD',
        operation: { kind: 'capture', reference: 'PSP_REFERENCE', outcome: 'succeeded', amount: '23623' },
        merchantReference: '00000001',
        riskFacts: { paymentMethodType: 'visa' },
      },
    });
  });

  it('maps a successful REFUND to a refund operation of that amount (not a cumulative total)', () => {
    expect(plain(normalizeAdyen(fixtureItem('refund-true')))).toMatchObject({
      kind: 'event',
      event: {
        kind: 'refunded',
        pspReference: 'ORIGINAL_PSP',
        currency: 'EUR',
        operation: { kind: 'refund', outcome: 'succeeded', amount: '1500' },
        merchantReference: 'payment-2017-1-17-11-refund',
      },
    });
  });

  it('maps a successful CANCELLATION to a void operation on the originalReference', () => {
    const n = normalizeAdyen({ ...fixtureItem('capture-true'), eventCode: 'CANCELLATION' });
    expect(plain(n)).toMatchObject({
      event: {
        kind: 'voided',
        pspReference: 'ORIGINAL_PSP',
        operation: { kind: 'void', reference: 'PSP_REFERENCE', outcome: 'succeeded' },
      },
    });
  });

  it.each([
    ['CAPTURE with success false', { eventCode: 'CAPTURE', success: 'false' }, 'capture_failed', 'capture', 'failed'],
    ['CAPTURE_FAILED', { eventCode: 'CAPTURE_FAILED' }, 'capture_failed', 'capture', 'failed'],
    ['REFUND with success false', { eventCode: 'REFUND', success: 'false' }, 'refund_failed', 'refund', 'failed'],
    ['REFUND_FAILED', { eventCode: 'REFUND_FAILED' }, 'refund_failed', 'refund', 'failed'],
    ['CANCELLATION with success false', { eventCode: 'CANCELLATION', success: 'false' }, 'voided', 'void', 'failed'],
    ['NOTIFICATION_OF_CHARGEBACK', { eventCode: 'NOTIFICATION_OF_CHARGEBACK' }, 'dispute_opened', 'dispute', 'open'],
    ['CHARGEBACK', { eventCode: 'CHARGEBACK' }, 'dispute_lost', 'dispute', 'lost'],
    ['CHARGEBACK_REVERSED', { eventCode: 'CHARGEBACK_REVERSED' }, 'dispute_reversed', 'dispute', 'reversed'],
  ])('maps %s to %s: a %s operation, outcome %s, named by its own pspReference', (_name, patch, kind, opKind, outcome) => {
    const n = normalizeAdyen({ ...fixtureItem('capture-true'), ...patch });
    expect(plain(n)).toMatchObject({
      kind: 'event',
      event: { kind, pspReference: 'ORIGINAL_PSP', operation: { kind: opKind, reference: 'PSP_REFERENCE', outcome, amount: '23623' } },
    });
  });

  it('accepts success as a JSON boolean', () => {
    const n = normalizeAdyen({ ...fixtureItem('capture-true'), success: true });
    expect(n.kind === 'event' && n.event.kind).toBe('captured');
  });

  it('ignores an eventCode it does not map', () => {
    expect(normalizeAdyen({ ...fixtureItem('capture-true'), eventCode: 'PAIDOUT_REVERSED' })).toEqual({
      kind: 'ignored',
      reason: 'Adyen eventCode PAIDOUT_REVERSED is not mapped',
    });
  });

  it('answers REPORT_AVAILABLE of a settlement details report as a report to pull, and ignores other reports', () => {
    const url = 'https://ca-test.adyen.com/reports/download/MerchantAccount/M/settlement_detail_report_batch_7.csv';
    const item = (pspReference: string, reason?: string) => ({
      eventCode: 'REPORT_AVAILABLE',
      pspReference,
      success: 'true',
      amount: { value: 0, currency: 'EUR' },
      ...(reason === undefined ? {} : { reason }),
    });
    expect(normalizeAdyen(item('settlement_detail_report_batch_7.csv', url))).toEqual({
      kind: 'report',
      report: { kind: 'adyen_report', fileName: 'settlement_detail_report_batch_7.csv', url },
    });
    expect(normalizeAdyen(item('payments_accounting_report_2025_06_01.csv', url))).toEqual({
      kind: 'ignored',
      reason: 'report payments_accounting_report_2025_06_01.csv is not a settlement details report',
    });
    expect(normalizeAdyen(item('settlement_detail_report_batch_7.csv'))).toMatchObject({ kind: 'invalid' });
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

  it('answers invalid for an amount beyond Number.MAX_SAFE_INTEGER minor units, and for a currency ISO 4217 does not know', () => {
    expect(normalizeAdyen({ ...fixtureItem('capture-true'), amount: { value: 2 ** 53, currency: 'USD' } }).kind).toBe('invalid');
    expect(normalizeAdyen({ ...fixtureItem('capture-true'), amount: { value: 100, currency: 'XYZ' } })).toEqual({
      kind: 'invalid',
      reason: 'invalid currency XYZ',
    });
  });

  it('keeps a zero-exponent amount in minor units as the same integer (JPY 1000 stays 1000)', () => {
    const n = normalizeAdyen({ ...fixtureItem('authorisation-true'), amount: { value: 1000, currency: 'JPY' } });
    expect(plain(n)).toMatchObject({ event: { currency: 'JPY', amount: '1000' } });
  });
});

describe('normalizeAdyen: the payments API operation in the metadata', () => {
  it('carries additionalData "metadata.switchyard_op" as the report operationId', () => {
    const item = {
      ...fixtureItem('authorisation-true'),
      additionalData: { 'metadata.switchyard_op': `pop_${'0f'.repeat(16)}`, authCode: '1234' },
    };
    const n = normalizeAdyen(item);
    expect(n.kind === 'event' && n.event).toMatchObject({
      kind: 'authorized',
      pspReference: '123456789',
      operationId: `pop_${'0f'.repeat(16)}`,
    });
  });

  it('leaves operationId out when the metadata is absent or not an operation id', () => {
    for (const additionalData of [undefined, {}, { 'metadata.switchyard_op': 'not-an-id' }]) {
      const n = normalizeAdyen({ ...fixtureItem('authorisation-true'), additionalData });
      expect(n.kind === 'event' && n.event).not.toHaveProperty('operationId');
    }
  });
});
