import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectFormat, majorToMinor, readLine, type ReportHeader } from './formats.js';

describe('majorToMinor', () => {
  it('scales by the ISO 4217 exponent: JPY 0, USD 2, KWD 3', () => {
    expect(majorToMinor('1000', 'JPY', 'gross')).toBe(1000n);
    expect(majorToMinor('-10.5', 'USD', 'gross')).toBe(-1050n);
    expect(majorToMinor('1.234', 'KWD', 'gross')).toBe(1234n);
    expect(majorToMinor('', 'USD', 'fee')).toBe(0n);
  });

  it('refuses more decimals than the currency has, and anything that is not a plain amount', () => {
    expect(() => majorToMinor('10.5', 'JPY', 'gross')).toThrow('gross 10.5 has more decimals than JPY has (0)');
    expect(() => majorToMinor('1e3', 'USD', 'net')).toThrow('is not an amount');
    expect(() => majorToMinor('1,000.00', 'USD', 'net')).toThrow('is not an amount');
  });

  it('is exact for any amount written with at most the currency’s decimals', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.constantFrom('JPY', 'USD', 'KWD'), (minor, currency) => {
        const exp = { JPY: 0, USD: 2, KWD: 3 }[currency]!;
        const text = new Decimal(minor.toString()).dividedBy(new Decimal(10).pow(exp)).toFixed(exp);
        expect(majorToMinor(text, currency, 'gross')).toBe(minor);
      }),
    );
  });
});

describe('detectFormat', () => {
  it('recognises either format by column names in any order and names what each lacks otherwise', () => {
    expect(detectFormat(['net', 'x', 'gross', 'fee', 'currency', 'reporting_category', 'balance_transaction_id'])).toMatchObject({
      format: 'stripe',
    });
    const unknown = detectFormat(['Psp Reference', 'Type']);
    expect(unknown).toMatchObject({
      missing: { adyen: expect.arrayContaining(['Net Currency']), stripe: expect.arrayContaining(['gross']) },
    });
  });
});

describe('readLine', () => {
  const stripe = detectFormat([
    'balance_transaction_id',
    'currency',
    'gross',
    'fee',
    'net',
    'reporting_category',
    'source_id',
    'payment_intent_id',
  ]) as ReportHeader;

  it('reads a Stripe refund with its operation and payment', () => {
    expect(readLine(['txn_1', 'usd', '-3.00', '0.00', '-3.00', 'refund', 're_1', 'pi_1'], stripe, 7)).toMatchObject({
      lineNo: 7,
      category: 'refund',
      paymentRef: 'pi_1',
      operationRef: 're_1',
      currency: 'USD',
      gross: -300n,
      net: -300n,
    });
  });

  it('names the line when net is not gross less fee, or the currency is unknown', () => {
    expect(readLine(['txn_1', 'usd', '3.00', '0.10', '3.00', 'charge', 'ch_1', 'pi_1'], stripe, 4)).toMatchObject({
      lineNo: 4,
      error: 'net 3.00 is not gross less fee',
    });
    expect(readLine(['txn_1', 'xyz', '3', '0', '3', 'charge', 'ch_1', 'pi_1'], stripe, 5)).toMatchObject({
      lineNo: 5,
      error: expect.stringContaining('xyz'),
    });
  });

  it('reads an Adyen chargeback: debits negative, fee what gross lost on the way to net, local time to UTC', () => {
    const adyen = detectFormat([
      'Psp Reference',
      'Modification Reference',
      'Type',
      'Creation Date',
      'TimeZone',
      'Gross Currency',
      'Gross Debit (GC)',
      'Gross Credit (GC)',
      'Net Currency',
      'Net Debit (NC)',
      'Net Credit (NC)',
      'Batch Number',
    ]) as ReportHeader;
    expect(
      readLine(['P1', 'M1', 'Chargeback', '2013-03-26 22:37:26', 'CET', 'EUR', '349.99', '', 'EUR', '357.49', '', '7'], adyen, 2),
    ).toMatchObject({
      lineId: 'P1:M1:Chargeback',
      category: 'dispute',
      gross: -34999n,
      net: -35749n,
      fee: 750n,
      occurredAt: new Date('2013-03-26T21:37:26Z'),
      payoutRef: '7',
    });
  });

  it('reads an Adyen line with currency conversion: gross in its currency, fee (the fee columns) and net in the net currency', () => {
    const adyen = detectFormat([
      'Psp Reference',
      'Modification Reference',
      'Type',
      'Gross Currency',
      'Gross Debit (GC)',
      'Gross Credit (GC)',
      'Exchange Rate',
      'Net Currency',
      'Net Debit (NC)',
      'Net Credit (NC)',
      'Commission (NC)',
      'Interchange (NC)',
    ]) as ReportHeader;
    expect(readLine(['P2', 'M2', 'Settled', 'JPY', '', '1000', '0.0065', 'USD', '', '6.20', '0.20', '0.10'], adyen, 4)).toMatchObject({
      currency: 'JPY',
      gross: 1000n,
      netCurrency: 'USD',
      fee: 30n,
      net: 620n,
    });
    expect(readLine(['', 'Fees June', 'Fee', 'EUR', '1.00', '', '1.0850', 'USD', '1.09', '', '', ''], adyen, 5)).toMatchObject({
      error: 'a Fee line with currency conversion (gross in EUR, net in USD) is not reconciled',
    });
    expect(readLine(['P3', 'M3', 'Settled', 'JPY', '', '10.5', '0.0065', 'USD', '', '0.06', '', ''], adyen, 6)).toMatchObject({
      error: 'Gross Credit (GC) 10.5 has more decimals than JPY has (0); amounts are never rounded',
    });
  });
});
