// Pulled reports end to end through the msw simulators: payments made through the payments API, the PSP's payout
// (Stripe payout.paid) or settlement batch (Adyen REPORT_AVAILABLE) webhook through the real inbound route, the
// queued pull job, the report fetched, reconciled and posted.
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { parseJobPayload, type JobPayload } from '../../src/core/jobs/catalog.js';
import { checkLedger } from '../../src/core/ledger/ledger-store.js';
import { adyenSimulator, stripeSimulator, type AdyenSimulator, type StripeSimulator } from '../../src/dev/simulators/index.js';
import { pullSettlementReport } from '../../src/reconciliation/pull-report.task.js';
import { reconcileRun } from '../../src/reconciliation/reconcile.task.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { jsonRequest, testDeps } from '../app.js';
import { ADYEN_BASE, aShop, apps, command, getJson, processReceived, STRIPE_BASE, type Shop } from '../payments-api/harness.js';

const STRIPE_SECRET = 'whsec_pulled_reports_0123456789';
const SK = 'sk_test_pulled_0123456789';
const HMAC_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
const ADYEN_KEY = 'AQE_pulled_adyen_key';
const REPORT_USER = { username: 'report@Company.Switchyard', password: 'report-password-0123' };

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof apps>['app'];
let commands: ReturnType<typeof apps>['commands'];
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  ({ app, commands } = apps(deps));
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await db.drop();
});

interface Run {
  id: string;
  status: string;
  format: string;
  payoutId: string | null;
  batchNumber: string | null;
  counts: Record<string, number>;
  totals: { currency: string; gross: number; fee: number; net: number }[];
  error: string | null;
}

/** The pull jobs queued for a source, oldest first, removed from the queue (the test runs them as the worker would). */
async function takePullJobs(sourceId: string): Promise<JobPayload<'pull_settlement_report'>[]> {
  const rows = await db.sql<{ payload: unknown }[]>`
    delete from graphile_worker._private_jobs j
     using graphile_worker._private_tasks t
     where t.id = j.task_id and t.identifier = 'pull_settlement_report' and j.payload->>'sourceId' = ${sourceId}
    returning j.payload`;
  return rows.map((r) => parseJobPayload('pull_settlement_report', r.payload));
}

/** Runs a pull job and the reconciliation it queued; returns the run as the API shows it. */
async function pullAndReconcile(shop: Shop, job: JobPayload<'pull_settlement_report'>): Promise<Run> {
  const pulled = await pullSettlementReport(deps, job);
  expect(pulled.kind, JSON.stringify(pulled)).toBe('loaded');
  if (pulled.kind !== 'loaded') throw new Error('not loaded');
  const runId = pulled.outcome.kind === 'created' ? pulled.outcome.runId : pulled.outcome.run.id;
  await reconcileRun(deps, runId);
  return getJson<Run>(app, shop, `/v1/reconciliation/settlements/${runId}`);
}

async function balance(merchantId: string, account: string, currency: string): Promise<bigint> {
  const [row] = await db.sql<{ balance: string }[]>`
    select balance::text as balance from gw.ledger_accounts where merchant_id = ${merchantId} and code = ${account} and currency = ${currency}`;
  return BigInt(row?.balance ?? '0');
}

async function settlementCount(merchantId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from gw.ledger_transactions where merchant_id = ${merchantId} and kind = 'settlement'`;
  return row!.n;
}

/** psp_receivable per payment of the merchant (debit-positive minor units). */
async function receivables(merchantId: string): Promise<bigint[]> {
  const rows = await db.sql<{ sum: string }[]>`
    select coalesce(sum(case e.direction when 'debit' then e.amount else -e.amount end), 0)::text as sum
      from gw.payments p
      join gw.ledger_transactions t on t.payment_id = p.id
      join gw.ledger_entries e on e.transaction_id = t.id
      join gw.ledger_accounts a on a.id = e.account_id and a.code = 'psp_receivable'
     where p.merchant_id = ${merchantId}
     group by p.id`;
  return rows.map((r) => BigInt(r.sum));
}

/** A Stripe shop and its simulator; `aheadMs` sets the simulator's clock ahead (its report lines then follow what the ledger recorded). */
async function stripeShop(aheadMs = 0): Promise<{ shop: Shop; sim: StripeSimulator }> {
  const shop = await aShop(deps, app, { provider: 'stripe', secret: STRIPE_SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
  const sim = stripeSimulator({
    baseUrl: STRIPE_BASE,
    apiKey: SK,
    clock: () => new Date(Date.now() + aheadMs),
    webhooks: { url: shop.inboundUrl, secret: STRIPE_SECRET, delivery: 'manual', send: async (r) => app.request(r) },
  });
  server.use(...sim.handlers);
  return { shop, sim };
}

async function pay(shop: Shop, key: string, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await commands.request('/v1/payments', command(shop, key, { sourceId: shop.sourceId, merchantReference: key, ...body }));
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Record<string, any>;
}

async function post(shop: Shop, path: string, key: string, body?: unknown): Promise<void> {
  const res = await commands.request(path, command(shop, key, body));
  expect(res.status, await res.clone().text()).toBe(200);
}

describe('Stripe: payout.paid → balance transactions → run completed', () => {
  it('pulls every page of the payout, matches and posts each line, names a refund it left out missingInReport, nets settled receivables to zero; a second pull posts nothing', async () => {
    // the payout's lines carry whole seconds: 5 s ahead, its last line follows every operation the ledger recorded
    const { shop, sim } = await stripeShop(5_000);
    await pay(shop, 'usd-1', { amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    const refunded = await pay(shop, 'usd-2', { amount: 10_000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    await post(shop, `/v1/payments/${refunded.id}/refunds`, 'usd-2-r1', { amount: 3000 });
    await post(shop, `/v1/payments/${refunded.id}/refunds`, 'usd-2-r2', { amount: 2000 });
    const partial = await pay(shop, 'usd-3', { amount: 5000, currency: 'usd', paymentMethod: 'pm_card_visa', captureMethod: 'manual' });
    await post(shop, `/v1/payments/${partial.id}/capture`, 'usd-3-cap', { amount: 3000 });
    const disputed = await pay(shop, 'usd-4', { amount: 4000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    sim.dispute(disputed.pspReference, { status: 'lost' });
    // more than one page of balance transactions (Stripe pages by 100)
    for (let i = 0; i < 101; i++) await pay(shop, `bulk-${i}`, { amount: 100 + i, currency: 'usd', paymentMethod: 'pm_card_visa' });
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    // a refund the PSP leaves out of its payout: with no settlement delay, the report's end names it missingInReport
    const forgotten = await pay(shop, 'usd-5', { amount: 700, currency: 'usd', paymentMethod: 'pm_card_visa' });
    await post(shop, `/v1/payments/${forgotten.id}/refunds`, 'usd-5-r1', { amount: 700 });
    const refundLine = sim.balanceTransactions.findIndex(
      (t) => t.reporting_category === 'refund' && t.source.payment_intent === forgotten.pspReference,
    );
    const [left] = sim.balanceTransactions.splice(refundLine, 1);
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    const delay = await app.request(
      `/v1/reconciliation/sources/${shop.sourceId}`,
      jsonRequest('PATCH', { settlementDelaySeconds: 0 }, shop.apiKey),
    );
    expect(delay.status).toBe(200);

    const [payout] = sim.payout();
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['report_pull_queued']);
    const jobs = await takePullJobs(shop.sourceId);
    expect(jobs).toEqual([
      { merchantId: shop.merchantId, sourceId: shop.sourceId, report: { kind: 'stripe_payout', payoutId: payout!.id } },
    ]);

    const run = await pullAndReconcile(shop, jobs[0]!);
    const lines = sim.balanceTransactions.length;
    expect(sim.calls.filter((c) => c.path === '/v1/balance_transactions')).toHaveLength(Math.ceil(lines / 100));
    expect(run).toMatchObject({ status: 'completed', format: 'stripe', payoutId: payout!.id, error: null });
    expect(run.counts).toMatchObject({
      lines,
      matched: lines - 1,
      ignored: 1,
      amountMismatch: 0,
      missingInLedger: 0,
      missingInReport: 1,
      duplicate: 0,
    });
    const missing = await getJson<{ data: { pspReference: string; paymentId: string; expected: { gross: number } }[] }>(
      app,
      shop,
      `/v1/reconciliation/settlements/${run.id}/items?result=missingInReport`,
    );
    expect(missing.data).toEqual([
      expect.objectContaining({ pspReference: left!.source.id, paymentId: forgotten.id, expected: { currency: 'USD', gross: -700 } }),
    ]);
    const fees = sim.balanceTransactions.reduce((s, t) => s + t.fee, 0);
    // the payout line takes back every net: what is left of the gross is the fees
    expect(run.totals).toEqual([{ currency: 'USD', gross: fees, fee: fees, net: 0 }]);
    expect(await balance(shop.merchantId, 'bank', 'USD')).toBe(BigInt(payout!.amount));
    expect(await balance(shop.merchantId, 'psp_fees', 'USD')).toBe(BigInt(fees));
    // every payment settled nets to zero; the one whose refund the payout left out still owes it back
    expect((await receivables(shop.merchantId)).filter((r) => r !== 0n)).toEqual([-700n]);
    expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);

    // the same payout pulled again (payout.reconciliation_completed after payout.paid): the first run, nothing posted twice
    const postings = await settlementCount(shop.merchantId);
    const again = await pullSettlementReport(deps, jobs[0]!);
    expect(again).toMatchObject({ kind: 'loaded', outcome: { kind: 'existing', run: { id: run.id } } });
    expect(await settlementCount(shop.merchantId)).toBe(postings);
  });

  it('fetches every page before storing anything: no database transaction is open while Stripe is asked for a page', async () => {
    const { shop } = await stripeShop();
    const openWhileFetching: number[] = [];
    server.use(
      http.get(`${STRIPE_BASE}/v1/balance_transactions`, async ({ request }) => {
        const [open] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`;
        openWhileFetching.push(open!.n);
        const second = new URL(request.url).searchParams.has('starting_after');
        const id = second ? 'txn_fetch2' : 'txn_fetch1';
        const txn = {
          id,
          amount: 1000,
          currency: 'usd',
          fee: 59,
          net: 941,
          reporting_category: 'charge',
          created: 1_750_000_000,
          source: { id: `ch_${id}`, object: 'charge', payment_intent: `pi_${id}` },
        };
        return HttpResponse.json({ object: 'list', has_more: !second, data: [txn] });
      }),
    );
    const job = { merchantId: shop.merchantId, sourceId: shop.sourceId, report: { kind: 'stripe_payout' as const, payoutId: 'po_fetch' } };
    const run = await pullAndReconcile(shop, job);
    expect(openWhileFetching).toEqual([0, 0]);
    expect(run).toMatchObject({ status: 'completed', payoutId: 'po_fetch' });
    expect(run.counts).toMatchObject({ lines: 2, missingInLedger: 2 });
  });

  it('throws for a retry and stores nothing when Stripe answers 500 after the first page', async () => {
    const { shop } = await stripeShop();
    server.use(
      http.get(`${STRIPE_BASE}/v1/balance_transactions`, ({ request }) => {
        if (new URL(request.url).searchParams.has('starting_after')) {
          return HttpResponse.json({ error: { type: 'api_error', message: 'An unknown error occurred.' } }, { status: 500 });
        }
        const source = { id: 'ch_page1', object: 'charge', payment_intent: 'pi_page1' };
        const txn = {
          id: 'txn_page1',
          amount: 1000,
          currency: 'usd',
          fee: 59,
          net: 941,
          reporting_category: 'charge',
          created: 1_750_000_000,
          source,
        };
        return HttpResponse.json({ object: 'list', has_more: true, data: [txn] });
      }),
    );
    const job = { merchantId: shop.merchantId, sourceId: shop.sourceId, report: { kind: 'stripe_payout' as const, payoutId: 'po_cut' } };
    await expect(pullSettlementReport(deps, job)).rejects.toThrow('the PSP answered 500');
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.reconciliation_runs where source_id = ${shop.sourceId}`;
    expect(row!.n).toBe(0);
  });

  it('skips a payout of a source without an apiKey, and records a failed run when Stripe refuses the key', async () => {
    const noKey = await (async () => {
      const m = await aShop(deps, app, { provider: 'stripe', secret: STRIPE_SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
      await db.sql`update gw.sources set api_key_ciphertext = null where id = ${m.sourceId}`;
      return m;
    })();
    expect(
      await pullSettlementReport(deps, {
        merchantId: noKey.merchantId,
        sourceId: noKey.sourceId,
        report: { kind: 'stripe_payout', payoutId: 'po_1' },
      }),
    ).toEqual({ kind: 'skipped', reason: 'the source has no apiKey' });

    const { shop } = await stripeShop();
    server.use(...stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: 'sk_test_another_key' }).handlers);
    const refused = await pullSettlementReport(deps, {
      merchantId: shop.merchantId,
      sourceId: shop.sourceId,
      report: { kind: 'stripe_payout', payoutId: 'po_refused' },
    });
    expect(refused.kind).toBe('failed');
    const run = await getJson<Run>(app, shop, `/v1/reconciliation/settlements/${(refused as { runId: string }).runId}`);
    expect(run).toMatchObject({ status: 'failed' });
    expect(run.error).toContain('Pulling payout po_refused failed');
    expect(run.error).toContain('401');
    expect(run.error).not.toContain(SK);
  });
});

describe('Adyen: REPORT_AVAILABLE → download → run completed', () => {
  async function adyenShop(credentials: typeof REPORT_USER | null): Promise<{ shop: Shop; sim: AdyenSimulator }> {
    const shop = await aShop(deps, app, {
      provider: 'adyen',
      secret: HMAC_KEY,
      apiKey: ADYEN_KEY,
      apiBaseUrl: ADYEN_BASE,
      merchantAccount: 'SwitchyardECOM',
    });
    if (credentials) {
      const res = await app.request(
        `/v1/reconciliation/sources/${shop.sourceId}`,
        jsonRequest('PATCH', { reportCredentials: credentials }, shop.apiKey),
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ hasReportCredentials: true });
    }
    const sim = adyenSimulator({
      baseUrl: ADYEN_BASE,
      apiKey: ADYEN_KEY,
      reportCredentials: REPORT_USER,
      webhooks: { url: shop.inboundUrl, secret: HMAC_KEY, delivery: 'manual', send: async (r) => app.request(r) },
    });
    server.use(...sim.handlers);
    return { shop, sim };
  }

  const card = { type: 'scheme', holderName: 'APPROVED' };

  it('downloads the settlement details report with the report user, matches captures and refunds in EUR, JPY and KWD, posts bank and psp_fees', async () => {
    const { shop, sim } = await adyenShop(REPORT_USER);
    await pay(shop, 'eur-1', { amount: 5000, currency: 'EUR', paymentMethod: card });
    const jpy = await pay(shop, 'jpy-1', { amount: 12_000, currency: 'JPY', paymentMethod: card, captureMethod: 'manual' });
    await post(shop, `/v1/payments/${jpy.id}/capture`, 'jpy-1-cap', { amount: 12_000 });
    const kwd = await pay(shop, 'kwd-1', { amount: 7_250, currency: 'KWD', paymentMethod: card });
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);
    await post(shop, `/v1/payments/${kwd.id}/refunds`, 'kwd-1-r1', { amount: 1_125 });
    await sim.webhooks.flush();
    await processReceived(deps, shop.sourceId);

    const file = sim.settle();
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['report_pull_queued']);
    const [job] = await takePullJobs(shop.sourceId);
    expect(job!.report).toMatchObject({ kind: 'adyen_report', fileName: file });

    const run = await pullAndReconcile(shop, job!);
    expect(sim.calls.filter((c) => c.path.endsWith(file))).toEqual([expect.objectContaining({ method: 'GET', status: 200 })]);
    expect(run).toMatchObject({ status: 'completed', format: 'adyen', batchNumber: '1', error: null });
    // three Settled, one Refunded, a MerchantPayout per currency
    expect(run.counts).toMatchObject({ lines: 7, matched: 4, ignored: 3, amountMismatch: 0, missingInLedger: 0, missingInReport: 0 });
    expect(await balance(shop.merchantId, 'bank', 'EUR')).toBe(5000n - (60n + 10n));
    expect(await balance(shop.merchantId, 'psp_fees', 'JPY')).toBe(144n + 10n);
    expect(await balance(shop.merchantId, 'bank', 'KWD')).toBe(7_250n - (87n + 10n) - 1_125n);
    expect((await receivables(shop.merchantId)).every((r) => r === 0n)).toBe(true);
    expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);

    const postings = await settlementCount(shop.merchantId);
    expect(await pullSettlementReport(deps, job!)).toMatchObject({ kind: 'loaded', outcome: { kind: 'existing' } });
    expect(await settlementCount(shop.merchantId)).toBe(postings);
  });

  it('skips without report credentials, refuses a URL that is neither adyen.com nor the apiBaseUrl, and records a 401 as a failed run', async () => {
    const bare = await adyenShop(null);
    const job = (url: string, shop: Shop) => ({
      merchantId: shop.merchantId,
      sourceId: shop.sourceId,
      report: { kind: 'adyen_report' as const, fileName: 'settlement_detail_report_batch_9.csv', url },
    });
    expect(
      await pullSettlementReport(
        deps,
        job(`${ADYEN_BASE}/reports/download/MerchantAccount/SwitchyardECOM/settlement_detail_report_batch_9.csv`, bare.shop),
      ),
    ).toEqual({
      kind: 'skipped',
      reason: 'the source has no reportCredentials',
    });

    const { shop } = await adyenShop({ username: REPORT_USER.username, password: 'wrong-password' });
    const elsewhere = await pullSettlementReport(deps, job('https://collector.example/settlement_detail_report_batch_9.csv', shop));
    expect(elsewhere.kind).toBe('failed');
    const refusedRun = await getJson<Run>(app, shop, `/v1/reconciliation/settlements/${(elsewhere as { runId: string }).runId}`);
    expect(refusedRun.error).toContain('neither an adyen.com host nor the source');

    const unauthorized = await pullSettlementReport(
      deps,
      job(`${ADYEN_BASE}/reports/download/MerchantAccount/SwitchyardECOM/settlement_detail_report_batch_9.csv`, shop),
    );
    const run = await getJson<Run>(app, shop, `/v1/reconciliation/settlements/${(unauthorized as { runId: string }).runId}`);
    expect(run).toMatchObject({ status: 'failed' });
    expect(run.error).toContain('401');
    expect(run.error).not.toContain('wrong-password');
  });
});
