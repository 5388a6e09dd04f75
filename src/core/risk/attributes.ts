// The attributes risk rules may read (README "Risk rules"): declared once, for the CEL environment and the docs.
import { Decimal } from 'decimal.js';
import { createExpressionEnvironment, type AttributeDeclarations, type ExpressionEnvironment } from '../expressions/cel.js';
import { currencyExponent } from '../money.js';

/**
 * What is known about a payment when rules run, from `POST /v1/payments` or the PSP payload (Stripe PaymentIntent /
 * Charge `payment_method_details`, `billing_details`, `receipt_email`, `customer`; Adyen `additionalData`). Absent
 * fields stay absent: a rule comparing them does not match.
 */
export interface PaymentFacts {
  /** Minor units. */
  amount: Decimal;
  /** ISO 4217, upper case. */
  currency: string;
  /** The source's PSP (`stripe`, `adyen`, …). */
  provider: string;
  paymentMethodType?: string;
  cardFingerprint?: string;
  /** ISO 3166-1 alpha-2, upper case. */
  cardCountry?: string;
  /** The card's first 6 digits. */
  cardBin?: string;
  customerId?: string;
  customerEmail?: string;
  ip?: string;
  /** ISO 3166-1 alpha-2, upper case. */
  ipCountry?: string;
  metadata?: Record<string, string>;
}

/** The facts a PSP payload carries (the amount, currency and provider come from the payment and its source). */
export type PspRiskFacts = Omit<PaymentFacts, 'amount' | 'currency' | 'provider'>;

/** Counts read from the database for one payment (risk-store.ts); only those some enabled rule reads are present. */
export interface ComputedFacts {
  count_same_fingerprint_1h?: number;
  count_same_customer_24h?: number;
  /** Minor units, same currency. */
  amount_same_customer_24h?: Decimal;
  duplicates_24h?: number;
  is_first_seen_card?: boolean;
}

/** The attributes computed from stored payments (each costs an index lookup, made only when an enabled rule reads it). */
export const COMPUTED_ATTRIBUTES = [
  'count_same_fingerprint_1h',
  'count_same_customer_24h',
  'amount_same_customer_24h',
  'duplicates_24h',
  'is_first_seen_card',
] as const;

const DECLARATIONS: AttributeDeclarations = {
  amount: 'int',
  currency: 'string',
  amount_major: 'double',
  payment_method: { type: 'string' },
  card: { fingerprint: 'string', country: 'string', bin: 'string' },
  customer: { id: 'string', email: 'string', email_domain: 'string' },
  ip: 'string',
  ip_country: 'string',
  metadata: 'map<string, string>',
  source: { provider: 'string' },
  count_same_fingerprint_1h: 'int',
  count_same_customer_24h: 'int',
  amount_same_customer_24h: 'int',
  duplicates_24h: 'int',
  is_round_amount: 'bool',
  is_first_seen_card: 'bool',
};

const NO_ITEMS: readonly string[] = Object.freeze([]);

/** The lists a merchant's rules may name with `list("alias")`: alias → items. */
export type ListItems = ReadonlyMap<string, readonly string[]>;

/** The CEL environment of risk rules: the attributes above and `list(alias): list<string>` (empty for an unknown alias). */
export function createRiskEnvironment(): ExpressionEnvironment {
  return createExpressionEnvironment(DECLARATIONS, {
    list: { returns: 'list<string>', handler: (extras, alias) => (extras as ListItems | undefined)?.get(alias) ?? NO_ITEMS },
  });
}

// 10^n as Decimal, n = 0…6 (currency exponents are 0–4, plus 2 for round amounts): built once, not per payment
const POWERS_OF_TEN = Array.from({ length: 7 }, (_, n) => new Decimal(10).pow(n));
const tenTo = (n: number): Decimal => POWERS_OF_TEN[n] ?? new Decimal(10).pow(n);

/** The attribute values rules see: bigint for int, number for double; absent facts are left out. */
export function attributeValues(facts: PaymentFacts, computed: ComputedFacts): Record<string, unknown> {
  const exponent = currencyExponent(facts.currency);
  const v: Record<string, unknown> = {
    amount: BigInt(facts.amount.toFixed(0)),
    currency: facts.currency,
    amount_major: facts.amount.dividedBy(tenTo(exponent)).toNumber(),
    is_round_amount: facts.amount.greaterThan(0) && facts.amount.modulo(tenTo(exponent + 2)).isZero(),
    source: { provider: facts.provider },
  };
  if (facts.paymentMethodType !== undefined) v.payment_method = { type: facts.paymentMethodType };
  const card = defined({ fingerprint: facts.cardFingerprint, country: facts.cardCountry, bin: facts.cardBin });
  if (card) v.card = card;
  const email = facts.customerEmail?.toLowerCase();
  const at = email?.lastIndexOf('@') ?? -1;
  const customer = defined({ id: facts.customerId, email, email_domain: email && at >= 0 ? email.slice(at + 1) : undefined });
  if (customer) v.customer = customer;
  if (facts.ip !== undefined) v.ip = facts.ip;
  if (facts.ipCountry !== undefined) v.ip_country = facts.ipCountry;
  if (facts.metadata !== undefined) v.metadata = facts.metadata;
  for (const name of COMPUTED_ATTRIBUTES) {
    const x = computed[name];
    if (x === undefined) continue;
    v[name] = typeof x === 'boolean' ? x : BigInt(typeof x === 'number' ? x : x.toFixed(0));
  }
  return v;
}

function defined(o: Record<string, string | undefined>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, x] of Object.entries(o)) {
    if (x === undefined) continue;
    out[k] = x;
    any = true;
  }
  return any ? out : undefined;
}

/** `values` as JSON for a decision row (bigint → number string-free where safe). */
export function valuesJson(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(values)) {
    if (typeof x === 'bigint') out[k] = x.toString();
    else if (typeof x === 'object' && x !== null)
      out[k] = { ...x }; // card, customer, …: strings only
    else out[k] = x;
  }
  return out;
}
