// First attempts handed to the worker that emitted them (src/core/events/outbox.ts
// FirstAttemptHandoff, src/outbound/deliver.task.ts HandoffDeliveries): their one job is
// committed already locked by that worker's pool, the attempts are made right after the
// commit and the job deleted; over the cap, or while stopping, the job is unlocked for any
// worker instead. Real database, real receivers on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvents, type FirstAttemptHandoff } from '../../src/core/events/outbox.js';
import { HandoffDeliveries } from '../../src/outbound/deliver.task.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';
import { receiversClosedAfterEach } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

/** A merchant with an endpoint on a new receiver, and `n` events emitted in one transaction whose first attempts are handed to `pool`. */
async function handedOver(n: number, pool: string) {
  const r = await receiver();
  const merchant = await aMerchant(deps);
  expect((await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: r.url }, merchant.apiKey))).status).toBe(201);
  const handoff: FirstAttemptHandoff = { poolId: pool, attempts: [], jobIds: [] };
  await db.sql.begin((tx) =>
    emitEvents(
      tx,
      Array.from({ length: n }, (_, i) => ({
        merchantId: merchant.id,
        type: 'payment.captured',
        paymentId: null,
        dedupeKey: `handoff-${pool}-${i}`,
        data: { amount: 100 + i, currency: 'EUR' },
        at: new Date(),
      })),
      handoff,
    ),
  );
  return { r, merchant, handoff };
}

async function jobs(ids: string[]) {
  return db.sql<{ id: string; locked_by: string | null; attempts: number }[]>`
    select id::text as id, locked_by, attempts from graphile_worker._private_jobs where id = any(${ids}::bigint[])`;
}

describe('HandoffDeliveries', () => {
  it('commits one job locked by the pool, makes every attempt once right after, and deletes the job', async () => {
    const { r, merchant, handoff } = await handedOver(3, 'pool-handoff-a');
    expect(handoff.attempts).toHaveLength(3);
    expect(await jobs(handoff.jobIds)).toEqual([{ id: handoff.jobIds[0], locked_by: 'pool-handoff-a', attempts: 0 }]);

    const deliveries = new HandoffDeliveries(deps, undefined, { maxInFlight: 4 });
    await deliveries.start(handoff);
    await deliveries.stop(); // waits for the running one
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(3);
    const messages = await db.sql<{ status: string; attempts: number }[]>`
      select status, attempts from gw.messages where merchant_id = ${merchant.id}`;
    expect(messages).toEqual([1, 2, 3].map(() => ({ status: 'succeeded', attempts: 1 })));
    expect(await jobs(handoff.jobIds)).toEqual([]);
  });

  it('over its cap, and once stopping, unlocks the job for any worker instead of delivering', async () => {
    const first = await handedOver(1, 'pool-handoff-b');
    const second = await handedOver(1, 'pool-handoff-b');
    const third = await handedOver(1, 'pool-handoff-b');
    // The first holds the only slot while its receiver answers; the second finds the cap reached.
    const deliveries = new HandoffDeliveries(deps, undefined, { maxInFlight: 1 });
    await deliveries.start(first.handoff);
    await deliveries.start(second.handoff);
    expect(await jobs(second.handoff.jobIds)).toEqual([{ id: second.handoff.jobIds[0], locked_by: null, attempts: 0 }]);
    await deliveries.stop();
    await deliveries.start(third.handoff);
    expect(await jobs(third.handoff.jobIds)).toEqual([{ id: third.handoff.jobIds[0], locked_by: null, attempts: 0 }]);

    await eventually(async () => (first.r.received.length === 1 ? true : undefined), 5_000, 'the first delivered');
    expect(await jobs(first.handoff.jobIds)).toEqual([]);
    expect(second.r.received).toHaveLength(0);
    expect(third.r.received).toHaveLength(0);
  });
});
