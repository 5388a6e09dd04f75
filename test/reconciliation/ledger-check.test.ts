// The continuous ledger check: incremental from checkpoints, a full pass when due, and a drift made behind the
// code's back (as a superuser would) named by the next run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps, MetricsSink } from '../../src/core/deps.js';
import { checkLedgers, checkMerchantLedger } from '../../src/reconciliation/ledger-check.task.js';
import { reconciliationCronItems } from '../../src/reconciliation/tasks.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { testApp, testDeps } from '../app.js';
import { aShop, getJson, stripeEvent, type Shop } from './harness.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let failures = 0;
const errors: { obj: object; msg?: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const base = await testDeps(db);
  const metrics: MetricsSink = {
    inbound() {},
    job() {},
    delivery() {},
    endpointDisabled() {},
    pspFetch() {},
    pspFetchDuration() {},
    ledgerCheckFailed() {
      failures++;
    },
  };
  const logger = { ...base.logger, error: (obj: object, msg?: string) => errors.push({ obj, msg }), child: () => logger };
  deps = { ...base, metrics, logger };
  app = testApp(deps);
});
afterAll(async () => db.drop());

interface CheckJson {
  id: string;
  kind: string;
  status: string;
  entries: number;
  accounts: number;
  problems: Record<string, unknown>[];
}

async function checks(shop: Shop, query = ''): Promise<CheckJson[]> {
  return (await getJson<{ data: CheckJson[] }>(app, shop, `/v1/ledger/checks${query}`)).data;
}

describe('the continuous ledger check', () => {
  let shop: Shop;

  beforeAll(async () => {
    shop = await aShop(deps, app, 'stripe');
    await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_lc_1', amount: 1000 });
    await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_lc_2', amount: 500, currency: 'jpy' });
  });

  it('makes a full pass first, then checks only the entries posted since', async () => {
    const first = await checkMerchantLedger(deps, shop.merchantId);
    expect(first).toMatchObject({ kind: 'full', status: 'passed', entries: '4', accounts: 4, problems: [] });
    await stripeEvent(deps, app, shop, 'refund.updated', {
      paymentIntent: 'pi_lc_1',
      amount: 1000,
      refund: { id: 're_lc', amount: 300, status: 'succeeded' },
    });
    const second = await checkMerchantLedger(deps, shop.merchantId);
    expect(second).toMatchObject({ kind: 'incremental', status: 'passed', entries: '2', accounts: 4 });
    const third = await checkMerchantLedger(deps, shop.merchantId);
    expect(third).toMatchObject({ kind: 'incremental', status: 'passed', entries: '0' });
  });

  it('names the account whose kept balance was changed behind the code’s back, emits ledger.imbalance, counts and logs it', async () => {
    const before = failures;
    await db.sql`update gw.ledger_accounts set balance = balance + 7 where merchant_id = ${shop.merchantId} and code = 'psp_receivable' and currency = 'USD'`;
    const [check] = (await checkLedgers(deps)).filter((c) => c.merchant_id === shop.merchantId);
    expect(check).toMatchObject({
      kind: 'incremental',
      status: 'failed',
      problems: [{ problem: 'balance_drift', account: 'psp_receivable', currency: 'USD', kept: 707, fromEntries: 700 }],
    });
    expect(failures).toBe(before + 1);
    expect(errors.at(-1)).toMatchObject({ msg: 'ledger check failed', obj: { merchantId: shop.merchantId, checkId: check!.id } });
    const [event] = await db.sql<{ payload: Buffer }[]>`
      select p.payload from gw.events e join gw.event_payloads p on p.event_id = e.id
       where e.merchant_id = ${shop.merchantId} and e.type = 'ledger.imbalance'`;
    expect(JSON.parse(event!.payload.toString())).toMatchObject({ type: 'ledger.imbalance', data: { id: check!.id, status: 'failed' } });
    expect((await expectEventsMatchCatalogue(db.sql))['ledger.imbalance']).toBe(1);
    const failed = await checks(shop, '?status=failed');
    expect(failed.map((c) => c.id)).toEqual([check!.id]);
    expect(failed[0]!.problems).toEqual(check!.problems);
    // it stays named until it is mended
    expect((await checkMerchantLedger(deps, shop.merchantId)).status).toBe('failed');
    await db.sql`update gw.ledger_accounts set balance = balance - 7 where merchant_id = ${shop.merchantId} and code = 'psp_receivable' and currency = 'USD'`;
    expect((await checkMerchantLedger(deps, shop.merchantId)).status).toBe('passed');
  });

  it('names an entry written with the triggers off: its account drifts, its currency no longer sums to zero, and the full pass names its transaction', async () => {
    const [t] = await db.sql<{ id: string; account_id: string }[]>`
      select t.id, e.account_id from gw.ledger_transactions t join gw.ledger_entries e on e.transaction_id = t.id
        join gw.ledger_accounts a on a.id = e.account_id
       where t.merchant_id = ${shop.merchantId} and a.code = 'merchant_payable' and a.currency = 'JPY' limit 1`;
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency) values (${t!.id}, ${t!.account_id}, 'credit', 5, 'JPY')`;
    });
    const incremental = await checkMerchantLedger(deps, shop.merchantId);
    expect(incremental.problems).toEqual([
      { problem: 'balance_drift', account: 'merchant_payable', currency: 'JPY', kept: -500, fromEntries: -505 },
      { problem: 'currency_unbalanced', currency: 'JPY', sum: -5 },
    ]);
    const full = await checkMerchantLedger(deps, shop.merchantId, { full: true });
    expect(full.kind).toBe('full');
    expect(full.problems).toContainEqual({ problem: 'transaction_unbalanced', transactionId: t!.id });
  });

  it('lists checks newest first and runs every SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES as a cron item', async () => {
    const page = await getJson<{ data: CheckJson[]; hasMore: boolean }>(app, shop, '/v1/ledger/checks?limit=2');
    expect(page.data).toHaveLength(2);
    expect(page.hasMore).toBe(true);
    expect(page.data[0]!.id > page.data[1]!.id).toBe(true);
    const [item] = reconciliationCronItems({ SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES: 5 });
    expect(item).toMatchObject({ task: 'check_ledgers', identifier: 'check_ledgers' });
    const at = (min: number) => item!.match({ min, hour: 3, date: 1, month: 1, dow: 1 });
    expect([0, 5, 55].map(at)).toEqual([true, true, true]);
    expect([1, 7, 59].map(at)).toEqual([false, false, false]);
  });
});
