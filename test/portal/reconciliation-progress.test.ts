// The portal's progress of a settlement run, without a browser: a report uploaded and not read yet says so (no
// "0 / 0"), a report read but not matched shows its lines, a finished run its counts (README "Reconcile").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { loadSpooledReport } from '../../src/reconciliation/load-report.js';
import { reconcileRun } from '../../src/reconciliation/reconcile.task.js';
import { testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aShop, stripeReport, upload, type Shop } from '../reconciliation/harness.js';

const ORIGIN = 'http://127.0.0.1:3000';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let shop: Shop;
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  shop = await aShop(deps, app, 'stripe');
  const login = await app.request(`${ORIGIN}/portal/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ apiKey: shop.apiKey }).toString(),
  });
  cookie = login.headers.get('set-cookie')!.split(';')[0]!;
});
afterAll(async () => db.drop());

const page = async (path: string) => {
  const res = await app.request(`${ORIGIN}${path}`, { headers: { cookie } });
  expect(res.status).toBe(200);
  return res.text();
};

describe('portal reconciliation progress', () => {
  it('says a report is queued or being read before the job has read it, then shows its lines, then its counts', async () => {
    const uploaded = await upload(
      app,
      shop,
      stripeReport([
        { txn: 'txn_p1', category: 'charge', currency: 'usd', gross: '10.00', fee: '0.59', net: '9.41', source: 'ch_p1', pi: 'pi_p1' },
        { txn: 'txn_p2', category: 'charge', currency: 'usd', gross: '20.00', fee: '0.88', net: '19.12', source: 'ch_p2', pi: 'pi_p2' },
      ]),
    );
    expect(uploaded.status).toBe(202);
    const runId = uploaded.body.id as string;

    let list = await page('/portal/reconciliation');
    expect(list).toContain('report queued or being read');
    expect(list).toContain('not read yet');
    expect(list).not.toContain('0 / 0');
    expect(await page(`/portal/reconciliation/${runId}`)).toContain('report queued or being read');

    // the job has read the report into its lines, and matched none yet
    await loadSpooledReport(deps, { id: runId, sourceId: shop.sourceId, provider: 'stripe' });
    list = await page('/portal/reconciliation');
    expect(list).not.toContain('report queued or being read');
    expect(list).toContain('0 / 2 lines matched');

    await reconcileRun(deps, runId);
    list = await page('/portal/reconciliation');
    expect(list).not.toContain('lines matched');
    expect(list).toContain('missingInLedger 2');
  });
});
