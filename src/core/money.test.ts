import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { currencyExponent, formatMinor, MAX_MINOR_UNITS, minorUnits, normalizeCurrency, toJsonAmount, toMinorText } from './money.js';

/** Runs fn and returns what it threw, failing the test if it did not throw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}

const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

describe('currencyExponent', () => {
  it('gives the ISO 4217 exponent: JPY 0, USD 2, KWD 3', () => {
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('KWD')).toBe(3);
  });

  it('gives 2 for a code with no special exponent, and 4 for CLF', () => {
    expect(currencyExponent('EUR')).toBe(2);
    expect(currencyExponent('CLF')).toBe(4);
  });
});

describe('minorUnits', () => {
  it('accepts integers and numeric strings from 0 up to Number.MAX_SAFE_INTEGER', () => {
    expect(minorUnits(0).toString()).toBe('0');
    expect(minorUnits(1099).toString()).toBe('1099');
    expect(minorUnits('1099').toString()).toBe('1099');
    expect(minorUnits(Number.MAX_SAFE_INTEGER).toString()).toBe('9007199254740991');
    expect(minorUnits('9007199254740991').toString()).toBe('9007199254740991');
    expect(minorUnits(new Decimal(42)).toString()).toBe('42');
    expect(MAX_MINOR_UNITS.toString()).toBe('9007199254740991');
  });

  it('keeps every integer in range exactly, from a number or a string', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: maxSafe }), (n) => {
        expect(minorUnits(n.toString()).toString()).toBe(n.toString());
        expect(minorUnits(Number(n)).toString()).toBe(n.toString());
      }),
    );
  });

  it.each<[string, number | string]>([
    ['a fraction', 10.5],
    ['a fractional string', '10.5'],
    ['a negative', -1],
    ['a negative string', '-1'],
    ['NaN', Number.NaN],
    ['the string NaN', 'NaN'],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['1e400', '1e400'],
    ['MAX_SAFE_INTEGER + 1', Number.MAX_SAFE_INTEGER + 1],
    ['MAX_SAFE_INTEGER + 1 as a string', '9007199254740992'],
    ['an empty string', ''],
    ['a word', 'ten'],
  ])('refuses %s with AppError amount_out_of_range (400)', (_label, value) => {
    const e = thrown(() => minorUnits(value));
    expect(e).toBeInstanceOf(AppError);
    expect(e).toMatchObject({ code: 'amount_out_of_range', status: 400 });
  });

  it('refuses every integer above Number.MAX_SAFE_INTEGER and every negative one', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 30n }), (k) => {
        for (const v of [(maxSafe + k).toString(), (-k).toString()]) {
          const e = thrown(() => minorUnits(v));
          expect(e).toBeInstanceOf(AppError);
          expect(e).toMatchObject({ code: 'amount_out_of_range', status: 400 });
        }
      }),
    );
  });
});

describe('toJsonAmount', () => {
  it('round-trips every amount in range through a JSON number', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: maxSafe }), (n) => {
        const amount = minorUnits(n.toString());
        const json = toJsonAmount(amount);
        expect(Number.isSafeInteger(json)).toBe(true);
        expect(BigInt(json)).toBe(n);
        expect(toJsonAmount(amount.toString())).toBe(json);
        const back = minorUnits(JSON.parse(JSON.stringify({ amount: json })).amount as number);
        expect(back.equals(amount)).toBe(true);
      }),
    );
  });

  it('refuses, rather than rounds, an amount beyond Number.MAX_SAFE_INTEGER or a fraction', () => {
    for (const v of ['9007199254740992', new Decimal('10.5')]) {
      const e = thrown(() => toJsonAmount(v));
      expect(e).toBeInstanceOf(AppError);
      expect(e).toMatchObject({ code: 'internal_error', status: 500 });
    }
  });
});

describe('formatMinor', () => {
  it('writes minor units as major units with the currency’s exponent: JPY 0, USD 2, KWD 3, CLF 4', () => {
    expect(formatMinor(1099, 'USD')).toBe('10.99');
    expect(formatMinor('1000', 'JPY')).toBe('1000');
    expect(formatMinor(-1234n, 'KWD')).toBe('-1.234');
    expect(formatMinor(new Decimal(5), 'clf')).toBe('0.0005');
    expect(formatMinor(0, 'EUR')).toBe('0.00');
    expect(formatMinor(-3000, 'usd')).toBe('-30.00');
  });

  it('is exact up to Number.MAX_SAFE_INTEGER and back, never rounded', () => {
    expect(formatMinor(Number.MAX_SAFE_INTEGER, 'USD')).toBe('90071992547409.91');
    expect(formatMinor(9223372036854775807n, 'KWD')).toBe('9223372036854775.807');
    fc.assert(
      fc.property(fc.bigInt({ min: -maxSafe, max: maxSafe }), fc.constantFrom('JPY', 'USD', 'KWD', 'CLF'), (minor, currency) => {
        const text = formatMinor(minor, currency);
        const exp = currencyExponent(currency);
        expect(text.split('.')[1]?.length ?? 0).toBe(exp);
        expect(new Decimal(text).times(new Decimal(10).pow(exp)).toFixed(0)).toBe(minor.toString());
      }),
    );
  });
});

describe('normalizeCurrency', () => {
  it('upper-cases a three-letter code', () => {
    expect(normalizeCurrency('usd')).toBe('USD');
    expect(normalizeCurrency('Jpy')).toBe('JPY');
    expect(normalizeCurrency('KWD')).toBe('KWD');
  });

  it.each(['us', 'US1', '', 'USDX', ' USD', 'U D', 'XYZ', 'ABC', 'usx'])('refuses %j', (code) => {
    expect(normalizeCurrency(code)).toBeUndefined();
  });
});

describe('toMinorText', () => {
  it('writes an amount in minor units as plain digits, up to Number.MAX_SAFE_INTEGER', () => {
    expect(toMinorText(minorUnits(1099))).toBe('1099');
    expect(toMinorText(minorUnits(Number.MAX_SAFE_INTEGER))).toBe('9007199254740991');
    expect(() => toMinorText(new Decimal('0.5'))).toThrow(AppError);
  });
});
