// The portal's reconciliation pages in a real Chromium against a gateway on the test database: runs with their counts,
// a processing run refreshed by htmx until it completes, a run's totals and items filtered by result (README "Reconcile").
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { reconcileRun } from '../../src/reconciliation/reconcile.task.js';
import { testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aShop, reconcile, stripeEvent, stripeReport, upload, type Shop } from '../reconciliation/harness.js';
import { launchChromium, screenshot, startGateway } from './browser.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let browser: Browser;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let context: BrowserContext;
let shop: Shop;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  gateway = await startGateway(deps);
  browser = await launchChromium();
  shop = await aShop(deps, app, 'stripe');
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${gateway.origin}/portal/login`);
  await page.getByLabel('API key').fill(shop.apiKey);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${gateway.origin}/portal`);
  await page.close();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await gateway?.close();
  await db?.drop();
});

describe('portal reconciliation pages', () => {
  it('lists runs with their counts, refreshes a processing run until it completes, and shows a run’s totals and mismatched items', async () => {
    await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_match', amount: 1000, currency: 'usd' });
    await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_short', amount: 2000, currency: 'usd' });
    const first = await reconcile(
      deps,
      app,
      shop,
      stripeReport([
        { txn: 'txn_match', category: 'charge', currency: 'usd', gross: '10.00', fee: '0.59', net: '9.41', source: 'ch_m', pi: 'pi_match' },
        {
          txn: 'txn_short',
          category: 'charge',
          currency: 'usd',
          gross: '19.00',
          fee: '0.85',
          net: '18.15',
          source: 'ch_s',
          pi: 'pi_short',
        },
        {
          txn: 'txn_unknown',
          category: 'charge',
          currency: 'usd',
          gross: '5.00',
          fee: '0.45',
          net: '4.55',
          source: 'ch_u',
          pi: 'pi_unknown',
        },
        { txn: 'txn_payout', category: 'payout', currency: 'usd', gross: '-32.11', fee: '0.00', net: '-32.11', source: 'po_test_1' },
      ]),
    );
    expect(first.counts).toMatchObject({ matched: 1, amountMismatch: 1, missingInLedger: 1, ignored: 1 });
    // a second report uploaded but not matched yet: the worker has not run its job
    const second = await upload(
      app,
      shop,
      stripeReport([
        {
          txn: 'txn_later',
          category: 'charge',
          currency: 'usd',
          gross: '10.00',
          fee: '0.59',
          net: '9.41',
          source: 'ch_m',
          pi: 'pi_match',
          payout: 'po_test_2',
        },
      ]),
    );
    expect(second.status).toBe(202);

    const page = await context.newPage();
    const res = await page.goto(`${gateway.origin}/portal/reconciliation`);
    expect(res!.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Reconciliation');
    expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Reconciliation');
    const rows = page.locator('#runs tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('processing');
    // its report is not read yet: no "0 / 0" lines
    expect(await rows.nth(0).textContent()).toContain('report queued or being read');
    expect(await rows.nth(0).textContent()).not.toContain('0 / 0');
    expect(await rows.nth(1).textContent()).toContain('amountMismatch 1');
    expect(await rows.nth(1).textContent()).toContain('missingInLedger 1');
    expect(await rows.nth(1).textContent()).toContain('po_test_1');
    await screenshot(page, 'reconciliation-runs');

    // the job runs; htmx swaps the rows in within its 5 s poll
    await reconcileRun(deps, second.body.id as string);
    await page.locator('#runs tr').nth(0).getByText('completed').waitFor({ timeout: 15_000 });

    await page.getByRole('link', { name: first.id }).click();
    await page.waitForURL(`${gateway.origin}/portal/reconciliation/${first.id}`);
    expect(await page.locator('h1').textContent()).toBe('Reconciliation po_test_1');
    expect(await page.locator('table').first().textContent()).toContain('1.89 USD');
    await page.getByLabel('Result').selectOption('amountMismatch');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/result=amountMismatch/);
    const items = page.locator('table').nth(1).locator('tbody tr');
    expect(await items.count()).toBe(1);
    const text = await items.first().textContent();
    expect(text).toContain('19.00 USD');
    expect(text).toContain('20.00 USD');
    expect(text).toContain('reported 1900, the ledger expects 2000');
    await screenshot(page, 'reconciliation-run');
    await page.close();
  });

  it('answers 404 for a run id that is not the merchant’s', async () => {
    const page = await context.newPage();
    const res = await page.goto(`${gateway.origin}/portal/reconciliation/rcn_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c`);
    expect(res!.status()).toBe(404);
    await page.close();
  });
});
