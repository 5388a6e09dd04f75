import { Decimal } from 'decimal.js';
import { AppError } from './errors.js';

/**
 * ISO 4217 minor-unit exponents other than 2. Source: list one, https://www.six-group.com/en/products-services/financial-information/data-standards.html
 */
const EXPONENTS: Record<string, number> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** Active ISO 4217 codes (list one, 2025), without funds and precious-metal codes (XAU, XDR, …): nobody pays in them. */
const CURRENCIES = new Set(
  (
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD ' +
    'CAD CDF CHF CLF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP ' +
    'GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD ' +
    'KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK ' +
    'NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD ' +
    'SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UYW UZS VED VES VND VUV ' +
    'WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG'
  ).split(' '),
);

/** Decimal digits after the point for an ISO 4217 currency code (JPY 0, USD 2, KWD 3). */
export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

/**
 * Minor units as major units with the currency's ISO 4217 exponent, exactly (never rounded, up to 19 digits): what
 * PSP reports and the portal write. The sign is kept; the currency code is not appended.
 * @throws decimal.js's Error for a value that is not a number.
 * @example
 * formatMinor(1099, 'USD') // '10.99'
 * formatMinor('1000', 'JPY') // '1000'
 * formatMinor(-1234n, 'KWD') // '-1.234'
 */
export function formatMinor(minor: Decimal | string | number | bigint, currency: string): string {
  const exp = currencyExponent(currency);
  // exact: decimal.js divides to 20 significant digits, and a bigint column holds at most 19
  return new Decimal(typeof minor === 'bigint' ? minor.toString() : minor).div(new Decimal(10).pow(exp)).toFixed(exp);
}

/** The largest amount, in minor units, Switchyard accepts: Number.MAX_SAFE_INTEGER. */
export const MAX_MINOR_UNITS = new Decimal(Number.MAX_SAFE_INTEGER);

/**
 * An amount in integer minor units as a Decimal, from a JSON integer or a numeric string (postgres.js bigint/numeric).
 * Throws AppError 400 `amount_out_of_range` for a fraction, a negative, NaN or a value beyond {@link MAX_MINOR_UNITS}.
 * @example
 * minorUnits(1099).plus(minorUnits('1')).toString() // '1100'
 */
export function minorUnits(value: number | string | Decimal): Decimal {
  let d: Decimal;
  if (typeof value === 'string' && !/^-?\d+(\.\d+)?$/.test(value)) {
    // decimal.js would also read '0x10' and '1e3'; an amount is written in plain digits
    throw new AppError('amount_out_of_range', 400, `${value} is not an amount in minor units.`);
  }
  try {
    d = new Decimal(value);
  } catch {
    throw new AppError('amount_out_of_range', 400, `${String(value)} is not an amount in minor units.`);
  }
  if (!d.isInteger() || d.isNegative() || d.greaterThan(MAX_MINOR_UNITS)) {
    throw new AppError(
      'amount_out_of_range',
      400,
      `${d.toString()} is not an integer amount of minor units between 0 and ${MAX_MINOR_UNITS.toString()}.`,
    );
  }
  return d;
}

/** The exact JSON number for an amount in minor units; throws AppError 500 `internal_error` rather than round. */
export function toJsonAmount(value: Decimal | string): number {
  const d = new Decimal(value);
  if (!d.isInteger() || d.abs().greaterThan(MAX_MINOR_UNITS)) {
    throw new AppError('internal_error', 500, 'An amount could not be represented exactly.');
  }
  return d.toNumber();
}

/** An active ISO 4217 code, upper-cased (Stripe sends `usd`; Switchyard stores `USD`), else undefined. */
export function normalizeCurrency(code: string): string | undefined {
  if (!/^[A-Za-z]{3}$/.test(code)) return undefined;
  const upper = code.toUpperCase();
  return CURRENCIES.has(upper) ? upper : undefined;
}

/** Plain digits of an amount in minor units for SQL `bigint`/`numeric`; throws AppError 500 for a fraction or beyond the max. */
export function toMinorText(value: Decimal): string {
  if (!value.isInteger() || value.abs().greaterThan(MAX_MINOR_UNITS)) {
    throw new AppError('internal_error', 500, 'An amount could not be represented exactly.');
  }
  return value.toString(); // plain digits: decimal.js switches to exponents only from 1e21
}
