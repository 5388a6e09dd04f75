// Property tests of reconciliation against a real database: how a PSP's lines are split into reports (and how the job
// chunks them) changes nothing that is posted, and the ledger's zero sum always holds.
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { checkLedger } from '../../src/core/ledger/ledger-store.js';
import { reconcileRun } from '../../src/reconciliation/reconcile.task.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { testApp, testDeps } from '../app.js';
import {
  aShop,
  balance,
  receivableByPayment,
  settlementPostings,
  stripeEvent,
  stripeReport,
  upload,
  type Shop,
  type StripeRow,
} from './harness.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
});
afterAll(async () => db.drop());

/** The same payments in a new shop: USD with a refund, JPY, KWD, and one the PSP settles short. */
async function shopWithPayments(): Promise<Shop> {
  const shop = await aShop(deps, app, 'stripe');
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_usd', amount: 2500 });
  await stripeEvent(deps, app, shop, 'refund.updated', {
    paymentIntent: 'pi_usd',
    amount: 2500,
    refund: { id: 're_usd', amount: 500, status: 'succeeded' },
  });
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_jpy', amount: 3000, currency: 'jpy' });
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_kwd', amount: 12345, currency: 'kwd' });
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_short', amount: 999 });
  return shop;
}

const LINES: StripeRow[] = [
  { txn: 'txn_1', category: 'charge', currency: 'usd', gross: '25.00', fee: '1.03', net: '23.97', pi: 'pi_usd' },
  { txn: 'txn_2', category: 'refund', currency: 'usd', gross: '-5.00', fee: '0.00', net: '-5.00', source: 're_usd', pi: 'pi_usd' },
  { txn: 'txn_3', category: 'charge', currency: 'jpy', gross: '3000', fee: '108', net: '2892', pi: 'pi_jpy' },
  { txn: 'txn_4', category: 'charge', currency: 'kwd', gross: '12.345', fee: '0.370', net: '11.975', pi: 'pi_kwd' },
  { txn: 'txn_5', category: 'charge', currency: 'usd', gross: '9.90', fee: '0.59', net: '9.31', pi: 'pi_short' },
  { txn: 'txn_6', category: 'charge', currency: 'usd', gross: '1.00', fee: '0.33', net: '0.67', pi: 'pi_unknown' },
  { txn: 'txn_7', category: 'payout', currency: 'usd', gross: '-28.95', fee: '0.00', net: '-28.95', source: 'po_1' },
];

/** Uploads and runs each report in turn (a report equal to an earlier one is answered 200 and not run again). */
async function reconcileAll(shop: Shop, reports: StripeRow[][], chunkLines: number): Promise<void> {
  for (const lines of reports) {
    const up = await upload(app, shop, stripeReport(lines));
    expect([200, 202]).toContain(up.status);
    if (up.status === 202) await reconcileRun(deps, up.body.id as string, { chunkLines });
  }
}

/** Postings with the source id taken out of their causes, so two shops' postings compare. */
async function postingsOf(shop: Shop): Promise<[string, string[]][]> {
  return [...(await settlementPostings(deps, shop))]
    .map(([cause, entries]): [string, string[]] => [cause.replace(shop.sourceId, 'SRC'), entries])
    .sort();
}

describe('reconciliation properties', () => {
  let reference: [string, string[]][];

  beforeAll(async () => {
    const shop = await shopWithPayments();
    await reconcileAll(shop, [LINES], 10_000);
    reference = await postingsOf(shop);
    // five payment lines post (the unknown payment and the payout do not)
    expect(reference).toHaveLength(5);
  });

  it('posts the same whatever split of the lines into reports, overlaps, order and chunk size; the ledger stays balanced', async () => {
    await fc.assert(
      fc.asyncProperty(
        // for each line, the reports (of up to 4) it appears in: at least one
        fc.array(fc.subarray([0, 1, 2, 3], { minLength: 1 }), { minLength: LINES.length, maxLength: LINES.length }),
        fc.array(fc.nat(), { minLength: LINES.length, maxLength: LINES.length }),
        fc.integer({ min: 1, max: 4 }),
        async (membership, order, chunkLines) => {
          const shop = await shopWithPayments();
          const reports: StripeRow[][] = [[], [], [], []];
          const shuffled = LINES.map((l, i) => ({ l, i, k: order[i]! })).sort((a, b) => a.k - b.k || a.i - b.i);
          for (const { l, i } of shuffled) for (const r of membership[i]!) reports[r]!.push(l);
          await reconcileAll(
            shop,
            reports.filter((r) => r.length > 0),
            chunkLines,
          );
          expect(await postingsOf(shop)).toEqual(reference);
          expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);
          const receivable = await receivableByPayment(deps, shop);
          for (const pi of ['pi_usd', 'pi_jpy', 'pi_kwd', 'pi_short']) expect(receivable.get(pi), pi).toBe(0n);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('posts to bank and psp_fees exactly the net and fee of the lines it settled, per currency', async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray(LINES, { minLength: 1 }), async (lines) => {
        const shop = await shopWithPayments();
        await reconcileAll(shop, [lines], 10_000);
        const settled = lines.filter((l) => l.category !== 'payout' && l.pi !== 'pi_unknown');
        for (const currency of ['USD', 'JPY', 'KWD']) {
          const exp = currency === 'JPY' ? 0 : currency === 'KWD' ? 3 : 2;
          const minor = (s: string) => BigInt(new Decimal(s).times(new Decimal(10).pow(exp)).toFixed(0));
          const mine = settled.filter((l) => l.currency.toUpperCase() === currency);
          expect(await balance(deps, shop, 'bank', currency), currency).toBe(mine.reduce((a, l) => a + minor(l.net), 0n));
          expect(await balance(deps, shop, 'psp_fees', currency), currency).toBe(mine.reduce((a, l) => a + minor(l.fee), 0n));
        }
        expect((await checkLedger(db.sql, shop.merchantId)).balanced).toBe(true);
      }),
      { numRuns: 10 },
    );
  });
});
