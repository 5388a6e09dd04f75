// The runner a deployment starts (startRunner) carries the payments API's tasks and cron
// items, not only the inbound and delivery tasks: the idempotency-key purge runs as a job,
// and both cron items are registered with graphile-worker.
import type { Runner } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { startRunner } from '../../src/app/worker.js';
import { aMerchant, testApp, testDeps } from '../app.js';
import { aShop, getJson, stripeEvent, stripeReport, upload, type RunJson } from '../reconciliation/harness.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';

let db: TestDatabase;
let deps: Deps;
let runner: Runner;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  runner = await startRunner(deps, { connectionString: db.url, concurrency: 2, pollIntervalMs: 100 });
});

afterAll(async () => {
  await runner?.stop();
  await db?.drop();
});

describe('startRunner', () => {
  it('registers the payments API, retention and reconciliation cron items with graphile-worker', async () => {
    const known = await eventually(async () => {
      const rows = await db.sql<{ identifier: string }[]>`
        select identifier from graphile_worker._private_known_crontabs order by identifier`;
      return rows.length >= 6 ? rows.map((r) => r.identifier) : undefined;
    });
    expect(known).toEqual([
      'check_ledgers',
      'check_stuck_payments',
      'create_retention_partitions',
      'purge_expired_partitions',
      'purge_idempotency_keys',
      'sync_stale_psp_operations',
    ]);
  });

  it('runs an uploaded settlement report to completion', async () => {
    const app = testApp(deps);
    const shop = await aShop(deps, app, 'stripe');
    await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_worker', amount: 800 });
    const up = await upload(
      app,
      shop,
      stripeReport([{ txn: 'txn_worker', category: 'charge', currency: 'usd', gross: '8.00', fee: '0.53', net: '7.47', pi: 'pi_worker' }]),
    );
    expect(up.status).toBe(202);
    const run = await eventually(async () => {
      const r = await getJson<RunJson>(app, shop, `/v1/reconciliation/settlements/${up.body.id as string}`);
      return r.status === 'processing' ? undefined : r;
    });
    expect(run).toMatchObject({ status: 'completed', counts: { lines: 1, matched: 1 } });
  });

  it('runs the idempotency-key purge: an expired key is deleted, a live one kept', async () => {
    const merchant = await aMerchant(deps);
    const now = deps.clock();
    const insertKey = (key: string, createdAt: Date, expiresAt: Date) => db.sql`
      insert into gw.idempotency_keys
        (merchant_id, idempotency_key, request_method, request_path, request_fingerprint, request_params, created_at, expires_at)
      values (${merchant.id}, ${key}, 'POST', '/v1/payments', ${'a'.repeat(64)}, ${db.sql.json({})}, ${createdAt}, ${expiresAt})`;
    await insertKey('expired', new Date(now.getTime() - 25 * 3_600_000), new Date(now.getTime() - 3_600_000));
    await insertKey('live', new Date(now.getTime() - 3_600_000), new Date(now.getTime() + 23 * 3_600_000));

    await db.sql`select graphile_worker.add_job('purge_idempotency_keys', '{}'::json)`;

    const left = await eventually(async () => {
      const rows = await db.sql<{ idempotency_key: string }[]>`select idempotency_key from gw.idempotency_keys order by 1`;
      return rows.length === 1 ? rows.map((r) => r.idempotency_key) : undefined;
    });
    expect(left).toEqual(['live']);
    // and the job completed (graphile-worker deletes a job that succeeded)
    const done = await eventually(async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from graphile_worker._private_jobs j
          join graphile_worker._private_tasks t on t.id = j.task_id
         where t.identifier = 'purge_idempotency_keys'`;
      return row!.n === 0 ? true : undefined;
    });
    expect(done).toBe(true);
  });
});
