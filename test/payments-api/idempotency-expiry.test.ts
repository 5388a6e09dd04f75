import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { purgeIdempotencyKeys } from '../../src/payments-api/idempotency/purge.task.js';
import { paymentsApiCronItems } from '../../src/payments-api/tasks.js';
import { stripeSimulator } from '../../src/dev/simulators/index.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { testDeps } from '../app.js';
import { aShop, apps, command, STRIPE_BASE } from './harness.js';

const T0 = new Date('2026-03-01T12:00:00.000Z');
const HOUR = 60 * 60 * 1000;

let db: TestDatabase;
let now = T0;
const clock: Clock = () => new Date(now);
let deps: Deps;
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock });
  server.listen({ onUnhandledRequest: 'error' });
});
afterAll(async () => {
  server.close();
  await db.drop();
});

describe('idempotency keys expire after 24 hours (fixed clock)', () => {
  it('replays within 24 h, treats the key as new after, and the purge task deletes it', async () => {
    const { app, commands } = apps(deps);
    const shop = await aShop(deps, app, {
      provider: 'stripe',
      secret: 'whsec_expiry_0123456789abcdefXYZ',
      apiKey: 'sk_test_expiry',
      apiBaseUrl: STRIPE_BASE,
    });
    const sim = stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: 'sk_test_expiry' });
    server.use(...sim.handlers);
    const body = { amount: 1500, currency: 'EUR', sourceId: shop.sourceId, merchantReference: 'exp-1', paymentMethod: 'pm_card_visa' };

    expect((await commands.request('/v1/payments', command(shop, 'exp-key', body))).status).toBe(201);
    const [row] = await db.sql<{ created_at: Date; expires_at: Date }[]>`
      select created_at, expires_at from gw.idempotency_keys where idempotency_key = 'exp-key'`;
    expect(row!.expires_at.getTime() - row!.created_at.getTime()).toBe(24 * HOUR);

    now = new Date(T0.getTime() + 24 * HOUR - 1000);
    const replay = await commands.request('/v1/payments', command(shop, 'exp-key', body));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await purgeIdempotencyKeys(deps)).toBe(0);
    // a different request with the key is still refused
    expect((await commands.request('/v1/payments', command(shop, 'exp-key', { ...body, amount: 1600 }))).status).toBe(422);

    now = new Date(T0.getTime() + 24 * HOUR);
    const fresh = await commands.request('/v1/payments', command(shop, 'exp-key', { ...body, amount: 1600 }));
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(sim.calls.filter((c) => !c.replayed)).toHaveLength(2);

    now = new Date(T0.getTime() + 48 * HOUR);
    expect(await purgeIdempotencyKeys(deps)).toBe(1);
    const left = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.idempotency_keys`;
    expect(left[0]!.n).toBe(0);
  });

  it('schedules the purge, the stale-operation sync and the stuck-payments check as graphile-worker cron items', () => {
    const items = paymentsApiCronItems();
    expect(items.map((i) => i.task).sort()).toEqual(['check_stuck_payments', 'purge_idempotency_keys', 'sync_stale_psp_operations']);
  });
});
