// Reconciliation tests' seams: shops with a Stripe or Adyen source, payments made through the real inbound path
// (events signed as the PSPs sign them, then processed), reports written as the PSPs write them, and ledger reads.
import { expect } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { buildAdyenNotification, type AdyenScenario, type SimulatedAdyenEventCode } from '../../src/dev/simulate/adyen.js';
import { buildStripeEvent, type StripeScenario, type SimulatedStripeType } from '../../src/dev/simulate/stripe.js';
import { processInboundEvents } from '../../src/inbound/process-event.task.js';
import { signAdyen, signStripe } from '../../src/inbound/verifiers/testing.js';
import { reconcileRun } from '../../src/reconciliation/reconcile.task.js';
import { aMerchant, jsonRequest, type testApp } from '../app.js';

export const STRIPE_SECRET = 'whsec_reconciliation_test_0123456789';
export const ADYEN_HMAC_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

/** A merchant of its own (its ledger is the test's alone) with one source. */
export interface Shop {
  merchantId: string;
  apiKey: string;
  sourceId: string;
}

type App = ReturnType<typeof testApp>;

/** A new merchant with a Stripe or Adyen source created through the API. */
export async function aShop(deps: Deps, app: App, provider: 'stripe' | 'adyen'): Promise<Shop> {
  const m = await aMerchant(deps, `Shop ${provider}`);
  const secret = provider === 'stripe' ? STRIPE_SECRET : ADYEN_HMAC_KEY;
  const res = await app.request('/v1/sources', jsonRequest('POST', { provider, secret }, m.apiKey));
  expect(res.status).toBe(201);
  return { merchantId: m.id, apiKey: m.apiKey, sourceId: ((await res.json()) as { id: string }).id };
}

/** Posts signed bytes to the inbound route, then processes the stored events as the worker would. */
async function ingestAndProcess(deps: Deps, app: App, shop: Shop, body: string, headers: Record<string, string>): Promise<void> {
  const res = await app.request(`/inbound/${shop.sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  expect(res.status).toBe(200);
  const rows = await deps.sql<{ id: string }[]>`
    select id from gw.inbound_events where source_id = ${shop.sourceId} and status = 'received' order by id`;
  await processInboundEvents(
    deps,
    rows.map((r) => r.id),
  );
}

/** A Stripe event of `type` through the inbound route (signed with stripe's scheme at the deps clock), processed; `edit` may change the object first. */
export async function stripeEvent(
  deps: Deps,
  app: App,
  shop: Shop,
  type: SimulatedStripeType,
  s: StripeScenario,
  edit?: (object: Record<string, unknown>) => void,
): Promise<void> {
  const event = buildStripeEvent(type, { at: deps.clock(), ...s });
  edit?.((event.data as { object: Record<string, unknown> }).object);
  const body = JSON.stringify(event);
  await ingestAndProcess(deps, app, shop, body, { 'stripe-signature': await signStripe(body, STRIPE_SECRET, deps.clock()) });
}

/** An Adyen notification through the inbound route (HMAC-signed per item), processed. */
export async function adyenEvent(deps: Deps, app: App, shop: Shop, code: SimulatedAdyenEventCode, s: AdyenScenario): Promise<void> {
  const body = await signAdyen(buildAdyenNotification(code, { at: deps.clock(), ...s }), ADYEN_HMAC_KEY);
  await ingestAndProcess(deps, app, shop, body, {});
}

/** A CSV field, quoted when it must be (RFC 4180). */
const field = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** CSV text of a header and rows, CRLF line ends as the PSPs export them. */
export function csv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return `${[header, ...rows].map((r) => r.map(field).join(',')).join('\r\n')}\r\n`;
}

/** The columns of a Stripe itemized payout reconciliation report (a subset, in Stripe's order, and one extra Stripe writes). */
export const STRIPE_HEADER = [
  'balance_transaction_id',
  'created_utc',
  'available_on_utc',
  'currency',
  'gross',
  'fee',
  'net',
  'reporting_category',
  'source_id',
  'description',
  'charge_id',
  'payment_intent_id',
  'automatic_payout_id',
] as const;

/** One Stripe report line; amounts in major units as Stripe writes them. */
export interface StripeRow {
  txn: string;
  category: string;
  currency: string;
  gross: string;
  fee: string;
  net: string;
  source?: string;
  pi?: string;
  created?: string;
  payout?: string;
}

/** A Stripe report's rows in {@link STRIPE_HEADER} order. */
export function stripeReport(rows: readonly StripeRow[]): string {
  return csv(
    STRIPE_HEADER,
    rows.map((r) => [
      r.txn,
      r.created ?? '2025-06-01 12:00:00',
      '2025-06-03 00:00:00',
      r.currency,
      r.gross,
      r.fee,
      r.net,
      r.category,
      r.source ?? '',
      'test line',
      '',
      r.pi ?? '',
      r.payout ?? 'po_test_1',
    ]),
  );
}

/** The columns of Adyen's Settlement details report, in Adyen's order (https://docs.adyen.com/reporting/settlement-detail-report). */
export const ADYEN_HEADER = [
  'Company Account',
  'Merchant Account',
  'Psp Reference',
  'Merchant Reference',
  'Payment Method',
  'Creation Date',
  'TimeZone',
  'Type',
  'Modification Reference',
  'Gross Currency',
  'Gross Debit (GC)',
  'Gross Credit (GC)',
  'Exchange Rate',
  'Net Currency',
  'Net Debit (NC)',
  'Net Credit (NC)',
  'Commission (NC)',
  'Markup (NC)',
  'Scheme Fees (NC)',
  'Interchange (NC)',
  'Payment Method Variant',
  'Modification Merchant Reference',
  'Batch Number',
] as const;

/** One Adyen report line; amounts in major units, debit or credit as Adyen splits them. */
export interface AdyenRow {
  psp: string;
  type: string;
  mod: string;
  currency: string;
  grossDebit?: string;
  grossCredit?: string;
  netDebit?: string;
  netCredit?: string;
  commission?: string;
  created?: string;
  /** With currency conversion: the net's currency (`currency` is then the gross's) and Adyen's Exchange Rate. */
  netCurrency?: string;
  rate?: string;
}

/** An Adyen report's rows in {@link ADYEN_HEADER} order. */
export function adyenReport(rows: readonly AdyenRow[], batch = '42'): string {
  return csv(
    ADYEN_HEADER,
    rows.map((r) => [
      'TestCompany',
      'TestMerchant',
      r.psp,
      'order-1',
      'visa',
      r.created ?? '2025-06-01 13:00:00',
      'CEST',
      r.type,
      r.mod,
      r.type === 'MerchantPayout' || r.type === 'Fee' ? '' : r.currency,
      r.grossDebit ?? '',
      r.grossCredit ?? '',
      r.rate ?? '1',
      r.netCurrency ?? r.currency,
      r.netDebit ?? '',
      r.netCredit ?? '',
      r.commission ?? '',
      '',
      '',
      '',
      'visaclassic',
      '',
      batch,
    ]),
  );
}

/** Uploads a report; returns the HTTP status and body. */
export async function upload(
  app: App,
  shop: Shop,
  body: string,
  contentType = 'text/csv',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(`/v1/reconciliation/settlements?sourceId=${shop.sourceId}`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${shop.apiKey}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A run as the API shows it. */
export interface RunJson {
  id: string;
  status: string;
  format: string;
  payoutId?: string | null;
  batchNumber?: string | null;
  periodStart: string | null;
  periodEnd: string | null;
  counts: Record<string, number>;
  totals: { currency: string; gross: number; fee: number; net: number }[];
}

/** Uploads a report (202 expected), runs its job as the worker would, and returns the completed run. */
export async function reconcile(deps: Deps, app: App, shop: Shop, body: string, options: { chunkLines?: number } = {}): Promise<RunJson> {
  const up = await upload(app, shop, body);
  expect(up.status, JSON.stringify(up.body)).toBe(202);
  await reconcileRun(deps, up.body.id as string, options);
  return getJson<RunJson>(app, shop, `/v1/reconciliation/settlements/${up.body.id as string}`);
}

/** GET as the shop; expects 200. */
export async function getJson<T>(app: App, shop: Shop, path: string): Promise<T> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${shop.apiKey}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

/** The shop's balance of `account` in `currency` (debit-positive minor units; 0 when the account does not exist). */
export async function balance(deps: Deps, shop: Shop, account: string, currency: string): Promise<bigint> {
  const [row] = await deps.sql<{ balance: string }[]>`
    select balance from gw.ledger_accounts where merchant_id = ${shop.merchantId} and code = ${account} and currency = ${currency}`;
  return BigInt(row?.balance ?? '0');
}

/** psp_receivable of each of the shop's payments (sum of its entries on that account, debit-positive), by PSP reference. */
export async function receivableByPayment(deps: Deps, shop: Shop): Promise<Map<string, bigint>> {
  const rows = await deps.sql<{ psp_reference: string; sum: string }[]>`
    select p.psp_reference, coalesce(sum(case e.direction when 'debit' then e.amount else -e.amount end), 0) as sum
      from gw.payments p
      join gw.ledger_transactions t on t.payment_id = p.id
      join gw.ledger_entries e on e.transaction_id = t.id
      join gw.ledger_accounts a on a.id = e.account_id and a.code = 'psp_receivable'
     where p.merchant_id = ${shop.merchantId}
     group by p.psp_reference`;
  return new Map(rows.map((r) => [r.psp_reference, BigInt(r.sum)]));
}

/** The shop's settlement ledger transactions: cause → entries (account, direction, amount, currency), sorted. */
export async function settlementPostings(deps: Deps, shop: Shop): Promise<Map<string, string[]>> {
  const rows = await deps.sql<{ cause: string; entry: string }[]>`
    select t.cause, a.code || ' ' || e.direction || ' ' || e.amount || ' ' || e.currency as entry
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id
      join gw.ledger_accounts a on a.id = e.account_id
     where t.merchant_id = ${shop.merchantId} and t.kind = 'settlement'
     order by t.cause, entry`;
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.cause, [...(out.get(r.cause) ?? []), r.entry]);
  return out;
}
