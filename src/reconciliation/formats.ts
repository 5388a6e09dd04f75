// Settlement report formats: which one a header row is, and one data row as a normalized line. Pure: no I/O.
import { Decimal } from 'decimal.js';
import { currencyExponent, normalizeCurrency } from '../core/money.js';

/** A report format Switchyard reads. */
export type ReportFormat = 'stripe' | 'adyen';

/** What a line moves, PSP-neutral; `fee` is a PSP fee billed on its own line; `payout` and `other` move no payment money (result `ignored`). */
export type LineCategory =
  | 'charge'
  | 'capture_reversal'
  | 'refund'
  | 'refund_reversal'
  | 'dispute'
  | 'dispute_reversal'
  | 'fee'
  | 'payout'
  | 'other';

/** One data line of a report, amounts in signed minor units (a credit to the merchant is positive). */
export interface ReportLine {
  lineNo: number;
  lineId: string;
  category: LineCategory;
  pspType: string;
  /** The payment's reference at the PSP: Stripe PaymentIntent (else charge), Adyen Psp Reference; null for non-payment lines. */
  paymentRef: string | null;
  /** The operation's own reference: Stripe `source_id` (re_, dp_, ch_…), Adyen Modification Reference. */
  operationRef: string | null;
  /** The gross's currency: the payment's. */
  currency: string;
  /** Signed minor units of `currency`. */
  gross: bigint;
  /** Signed minor units of `netCurrency` (else `currency`). */
  fee: bigint;
  /** Signed minor units of `netCurrency` (else `currency`). */
  net: bigint;
  /** Adyen with currency conversion: the currency the fee and net are paid in; null when it is `currency`. */
  netCurrency: string | null;
  occurredAt: Date | null;
  /** Stripe automatic_payout_id, Adyen Batch Number. */
  payoutRef: string | null;
}

/** A data line that could not be read; the rest of the report still reconciles. */
export interface LineError {
  lineNo: number;
  error: string;
  lineId: string | null;
  pspType: string | null;
}

/** Columns a Stripe itemized balance change / payout reconciliation report must carry. Source: https://docs.stripe.com/reports/report-types */
const STRIPE_REQUIRED = ['balance_transaction_id', 'currency', 'gross', 'fee', 'net', 'reporting_category'] as const;
const STRIPE_OPTIONAL = ['created_utc', 'created', 'source_id', 'charge_id', 'payment_intent_id', 'automatic_payout_id'] as const;

/** Columns of Adyen's Settlement details report Switchyard needs. Source: https://docs.adyen.com/reporting/settlement-detail-report */
const ADYEN_REQUIRED = [
  'Psp Reference',
  'Type',
  'Modification Reference',
  'Gross Currency',
  'Gross Debit (GC)',
  'Gross Credit (GC)',
  'Net Currency',
  'Net Debit (NC)',
  'Net Credit (NC)',
] as const;
/** Adyen's fee columns, in the net currency: what a converted line's gross lost on the way to its net. */
const ADYEN_FEE_COLUMNS = ['Commission (NC)', 'Markup (NC)', 'Scheme Fees (NC)', 'Interchange (NC)'] as const;
const ADYEN_OPTIONAL = ['Creation Date', 'TimeZone', 'Batch Number', 'Exchange Rate', ...ADYEN_FEE_COLUMNS] as const;

/** A recognised header: the format and the index of each column it uses (order free, unknown columns ignored). */
export interface ReportHeader {
  format: ReportFormat;
  columns: Record<string, number>;
}

/**
 * The format of a header row (column names, after a BOM is stripped), or what was recognised when it is neither:
 * `{missing: {stripe: [...], adyen: [...]}}` names the required columns each format lacks.
 */
export function detectFormat(header: readonly string[]): ReportHeader | { missing: Record<ReportFormat, string[]> } {
  const index = new Map<string, number>();
  header.forEach((name, i) => {
    const key = name.trim();
    if (!index.has(key)) index.set(key, i);
  });
  const missing = (names: readonly string[]) => names.filter((n) => !index.has(n));
  const pick = (names: readonly string[]) => Object.fromEntries(names.filter((n) => index.has(n)).map((n) => [n, index.get(n)!]));
  const stripeMissing = missing(STRIPE_REQUIRED);
  if (stripeMissing.length === 0) return { format: 'stripe', columns: pick([...STRIPE_REQUIRED, ...STRIPE_OPTIONAL]) };
  const adyenMissing = missing(ADYEN_REQUIRED);
  if (adyenMissing.length === 0) return { format: 'adyen', columns: pick([...ADYEN_REQUIRED, ...ADYEN_OPTIONAL]) };
  return { missing: { stripe: stripeMissing, adyen: adyenMissing } };
}

/** Thrown by the amount and date readers; becomes a {@link LineError}. */
class LineProblem extends Error {}

/**
 * Major units as written (`10.00`, `-3.5`, `1000`) to minor units with the currency's ISO 4217 exponent, exactly:
 * more decimals than the currency has is an error, never rounded. An empty field is 0.
 * @throws LineProblem naming the column.
 */
export function majorToMinor(text: string, currency: string, column: string): bigint {
  const t = text.trim();
  if (t === '') return 0n;
  if (!/^[+-]?\d+(\.\d+)?$/.test(t)) throw new LineProblem(`${column} ${JSON.stringify(t)} is not an amount`);
  const d = new Decimal(t);
  const exp = currencyExponent(currency);
  if (d.decimalPlaces() > exp) {
    throw new LineProblem(`${column} ${t} has more decimals than ${currency} has (${exp}); amounts are never rounded`);
  }
  return BigInt(d.times(new Decimal(10).pow(exp)).toFixed(0));
}

const STRIPE_CATEGORIES: Record<string, LineCategory> = {
  charge: 'charge',
  partial_capture_reversal: 'capture_reversal',
  refund: 'refund',
  refund_failure: 'refund_reversal',
  dispute: 'dispute',
  dispute_reversal: 'dispute_reversal',
  fee: 'fee',
  tax: 'fee',
  payout: 'payout',
  payout_reversal: 'payout',
  transfer: 'payout',
  transfer_reversal: 'payout',
};

const ADYEN_TYPES: Record<string, LineCategory> = {
  Settled: 'charge',
  Refunded: 'refund',
  RefundedReversed: 'refund_reversal',
  Chargeback: 'dispute',
  SecondChargeback: 'dispute',
  ChargebackReversed: 'dispute_reversal',
  Fee: 'fee',
  MiscCosts: 'fee',
  PaymentCost: 'fee',
  InvoiceDeduction: 'fee',
  MerchantPayout: 'payout',
};

/** Adyen TimeZone abbreviations to UTC offsets in minutes (the report writes local time and its zone's abbreviation). */
const ZONE_OFFSETS: Record<string, number> = {
  UTC: 0,
  GMT: 0,
  WET: 0,
  WEST: 60,
  BST: 60,
  CET: 60,
  CEST: 120,
  EET: 120,
  EEST: 180,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  SGT: 480,
  JST: 540,
  AEST: 600,
  AEDT: 660,
};

/** `YYYY-MM-DD HH:MM:SS` (or ISO 8601) at `offsetMinutes` east of UTC; null when empty or unreadable. */
function readTime(text: string | undefined, offsetMinutes: number): Date | null {
  const t = (text ?? '').trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(t);
  if (m) {
    const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
    return Number.isNaN(ms) ? null : new Date(ms - offsetMinutes * 60_000);
  }
  if (/^\d{9,11}$/.test(t)) return new Date(Number(t) * 1000); // Stripe's `created` as Unix seconds
  return null;
}

const cell = (row: readonly string[], header: ReportHeader, name: string): string => {
  const i = header.columns[name];
  return i === undefined ? '' : (row[i] ?? '').trim();
};

const orNull = (s: string): string | null => (s === '' ? null : s);

/** One data row of a Stripe itemized report (https://docs.stripe.com/reports/reporting-categories) as a line. */
function stripeLine(row: readonly string[], header: ReportHeader, lineNo: number): ReportLine | LineError {
  const lineId = cell(row, header, 'balance_transaction_id');
  const pspType = cell(row, header, 'reporting_category');
  const fail = (error: string): LineError => ({ lineNo, error, lineId: orNull(lineId), pspType: orNull(pspType) });
  if (lineId === '') return fail('balance_transaction_id is empty');
  const currency = normalizeCurrency(cell(row, header, 'currency'));
  if (!currency) return fail(`currency ${JSON.stringify(cell(row, header, 'currency'))} is not an ISO 4217 code`);
  try {
    const gross = majorToMinor(cell(row, header, 'gross'), currency, 'gross');
    const fee = majorToMinor(cell(row, header, 'fee'), currency, 'fee');
    const net = majorToMinor(cell(row, header, 'net'), currency, 'net');
    if (gross - fee !== net) return fail(`net ${cell(row, header, 'net')} is not gross less fee`);
    const category = STRIPE_CATEGORIES[pspType] ?? 'other';
    const sourceId = cell(row, header, 'source_id');
    const paymentRef =
      orNull(cell(row, header, 'payment_intent_id')) ??
      orNull(cell(row, header, 'charge_id')) ??
      (/^(ch|py|pi)_/.test(sourceId) ? sourceId : null);
    if (paymentRef === null && category !== 'payout' && category !== 'other' && category !== 'fee') {
      return fail(`a ${pspType} line names no payment_intent_id, charge_id or charge source_id`);
    }
    const created = cell(row, header, 'created_utc') || cell(row, header, 'created');
    return {
      lineNo,
      lineId,
      category,
      pspType,
      paymentRef,
      operationRef: orNull(sourceId),
      currency,
      gross,
      fee,
      net,
      netCurrency: null,
      occurredAt: readTime(created, 0),
      payoutRef: orNull(cell(row, header, 'automatic_payout_id')),
    };
  } catch (e) {
    if (e instanceof LineProblem) return fail(e.message);
    throw e;
  }
}

/** One data row of Adyen's Settlement details report (https://docs.adyen.com/reporting/settlement-detail-report) as a line. */
function adyenLine(row: readonly string[], header: ReportHeader, lineNo: number): ReportLine | LineError {
  const pspRef = cell(row, header, 'Psp Reference');
  const modRef = cell(row, header, 'Modification Reference');
  const pspType = cell(row, header, 'Type');
  // a payment line is named by its references; a fee or payout line (no Psp Reference) also by its batch and time
  const lineId =
    pspRef === ''
      ? `:${modRef}:${pspType}:${cell(row, header, 'Creation Date')}:${cell(row, header, 'Batch Number')}`
      : `${pspRef}:${modRef}:${pspType}`;
  const fail = (error: string): LineError => ({ lineNo, error, lineId, pspType: orNull(pspType) });
  if (pspType === '') return fail('Type is empty');
  const netText = cell(row, header, 'Net Currency');
  const grossText = cell(row, header, 'Gross Currency');
  const currency = normalizeCurrency(netText || grossText);
  if (!currency) return fail(`Net Currency ${JSON.stringify(netText)} is not an ISO 4217 code`);
  const category = ADYEN_TYPES[pspType] ?? 'other';
  if (pspRef === '' && category !== 'payout' && category !== 'other' && category !== 'fee')
    return fail(`a ${pspType} line has no Psp Reference`);
  const zone = cell(row, header, 'TimeZone');
  // credit less debit, signed minor units of `in`; throws LineProblem for a bad amount
  const signed = (side: 'Gross' | 'Net', code: 'GC' | 'NC', inCurrency: string): bigint =>
    majorToMinor(cell(row, header, `${side} Credit (${code})`), inCurrency, `${side} Credit (${code})`) -
    majorToMinor(cell(row, header, `${side} Debit (${code})`), inCurrency, `${side} Debit (${code})`);
  const line = (lineCurrency: string, gross: bigint, fee: bigint, net: bigint, netCurrency: string | null): ReportLine => ({
    lineNo,
    lineId,
    category,
    pspType,
    paymentRef: orNull(pspRef),
    operationRef: orNull(modRef),
    currency: lineCurrency,
    gross,
    fee,
    net,
    netCurrency,
    occurredAt: readTime(cell(row, header, 'Creation Date'), ZONE_OFFSETS[zone.toUpperCase()] ?? 0),
    payoutRef: orNull(cell(row, header, 'Batch Number')),
  });
  // Currency conversion: the gross in the payment's currency, fee and net in the net currency. The fee is the four
  // fee columns (NC), so gross converted = net + fee, at the PSP's own rate and rounding (never recomputed here).
  const converted = (grossCurrency: string, netCurrency: string, net: bigint): ReportLine | LineError => {
    if (category === 'fee') {
      return fail(`a ${pspType} line with currency conversion (gross in ${grossCurrency}, net in ${netCurrency}) is not reconciled`);
    }
    const gross = signed('Gross', 'GC', grossCurrency);
    let fee = 0n;
    for (const column of ADYEN_FEE_COLUMNS) fee += majorToMinor(cell(row, header, column), netCurrency, column);
    return line(grossCurrency, gross, fee, net, netCurrency);
  };
  try {
    const net = signed('Net', 'NC', currency);
    let gross = net;
    if (grossText !== '') {
      const grossCurrency = normalizeCurrency(grossText);
      if (!grossCurrency) return fail(`Gross Currency ${JSON.stringify(grossText)} is not an ISO 4217 code`);
      if (grossCurrency !== currency) return converted(grossCurrency, currency, net);
      gross = signed('Gross', 'GC', currency);
    }
    // Commission, Markup, Scheme Fees and Interchange together: what the gross lost on the way to the net
    return line(currency, gross, gross - net, net, null);
  } catch (e) {
    if (e instanceof LineProblem) return fail(e.message);
    throw e;
  }
}

/** A data row (cells as parsed) of a report with `header`, numbered `lineNo` in the file, as a line or a line error. */
export function readLine(row: readonly string[], header: ReportHeader, lineNo: number): ReportLine | LineError {
  return header.format === 'stripe' ? stripeLine(row, header, lineNo) : adyenLine(row, header, lineNo);
}

/** Whether a read line is an error. */
export const isLineError = (l: ReportLine | LineError): l is LineError => 'error' in l;
