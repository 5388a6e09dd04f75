// Processing handed from the ack path to the worker of the same process (`switchyard all`;
// src/core/jobs/processing-handoff.ts, src/app/worker.ts HandedProcessing): the job is
// committed already locked by the worker's pool, processed right after the ack without a
// fetch, and deleted by the processing transaction; a failure hands it back to any worker,
// a dead pool's job is recovered. Real database, real runner, a real receiver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runner } from 'graphile-worker';
import type { Deps } from '../../src/core/deps.js';
import type { ProcessingHandoff } from '../../src/core/jobs/processing-handoff.js';
import { unlockAbandonedJobs } from '../../src/core/jobs/recovery.js';
import { HandedProcessing, startRunner } from '../../src/app/worker.js';
import { createInboundBatcher } from '../../src/inbound/batcher.js';
import { storeInboundBatch } from '../../src/inbound/inbound-event-store.js';
import { newId } from '../../src/core/ids.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';
import { startReceiver, type Receiver } from '../receiver.js';

const STRIPE_SECRET = 'whsec_handoff_Q2hhbmdlTWVQbGVhc2UxMjM0NTY3';

let db: TestDatabase;
let deps: Deps;
let runner: Runner & { processingHandoff: ProcessingHandoff };
let receiver: Receiver;
let sourceId: string;
let merchantId: string;
/** process_inbound_event jobs the runner fetched and started itself. */
let fetchedProcessingJobs = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  receiver = await startReceiver();
  const merchant = await aMerchant(deps);
  merchantId = merchant.id;
  const app = testApp(deps);
  const source = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: STRIPE_SECRET }, merchant.apiKey));
  sourceId = ((await source.json()) as { id: string }).id;
  const endpoint = await app.request(
    '/v1/endpoints',
    jsonRequest('POST', { url: receiver.url, eventTypes: ['payment.captured'] }, merchant.apiKey),
  );
  expect(endpoint.status).toBe(201);
  runner = await startRunner(deps, { connectionString: db.url, concurrency: 4, pollIntervalMs: 200 });
  runner.events.on('job:start', ({ job }) => {
    if (job.task_identifier === 'process_inbound_event') fetchedProcessingJobs += 1;
  });
});

afterAll(async () => {
  await runner?.stop();
  await receiver?.close();
  await db?.drop();
});

async function postEvent(app: ReturnType<typeof testApp>, amount: number): Promise<string> {
  const event = buildStripeEvent('payment_intent.succeeded', { amount });
  const body = JSON.stringify(event);
  const res = await app.request(`/inbound/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, new Date()) },
    body,
  });
  expect(res.status).toBe(200);
  return event.id as string;
}

async function statuses(eventIds: string[]): Promise<string[]> {
  const rows = await db.sql<{ status: string }[]>`
    select status from gw.inbound_events where source_id = ${sourceId} and event_id = any(${eventIds}::text[]) order by event_id`;
  return rows.map((r) => r.status);
}

async function processingJobs(): Promise<{ id: string; locked_by: string | null }[]> {
  return db.sql<{ id: string; locked_by: string | null }[]>`
    select j.id::text as id, j.locked_by from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id
     where t.identifier = 'process_inbound_event'`;
}

describe('processing handed over by the ack path', () => {
  it('processes the events just acked in this process, without a worker fetching their job, and deletes the job', async () => {
    const batcher = createInboundBatcher(db.sql, { maxWeight: 100, windowMs: 2, maxInFlight: 2, handoff: runner.processingHandoff });
    const app = testApp({ ...deps, inboundBatcher: batcher });
    const eventIds = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => postEvent(app, 1000 + n)));

    await eventually(async () => ((await statuses(eventIds)).every((s) => s === 'processed') ? true : undefined));
    await receiver.waitFor(6);
    expect(fetchedProcessingJobs).toBe(0);
    expect(await processingJobs()).toEqual([]);
    const [payments] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.payments where merchant_id = ${merchantId}`;
    expect(payments!.n).toBe(6);
  });

  it('hands a job whose processing failed back to any worker, which processes it', async () => {
    let failures = 0;
    const handed = new HandedProcessing(
      deps,
      async () => {
        failures += 1;
        throw new Error('processing refused in this test');
      },
      4,
    );
    handed.attach('pool-handoff-test-failing');
    const batcher = createInboundBatcher(db.sql, { maxWeight: 100, windowMs: 0, maxInFlight: 1, handoff: handed });
    const eventId = await postEvent(testApp({ ...deps, inboundBatcher: batcher }), 2001);
    await handed.stop(); // waits for the handed job's outcome: released
    expect(failures).toBe(1);

    // Unlocked, so the runner fetched and processed it like any queued job.
    await eventually(async () => ((await statuses([eventId]))[0] === 'processed' ? true : undefined));
    expect(fetchedProcessingJobs).toBeGreaterThanOrEqual(1);
    await eventually(async () => ((await processingJobs()).length === 0 ? true : undefined));
  });

  it("recovers a dead pool's handed job: recovery unlocks it and any worker processes it", async () => {
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 3001 });
    const stored = await storeInboundBatch(
      db.sql,
      [
        {
          sourceId,
          merchantId,
          eventId: event.id as string,
          eventType: event.type as string,
          rawBody: new TextEncoder().encode(JSON.stringify(event)),
          headers: {},
        },
      ],
      { lockedBy: 'pool-handoff-test-dead' },
    );
    expect(stored.handed?.inboundEventIds).toEqual([stored.stored[0]!.id]);
    expect(await processingJobs()).toEqual([{ id: stored.handed!.jobId, locked_by: 'pool-handoff-test-dead' }]);
    // Nobody processes it while its pool holds it.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await statuses([event.id as string])).toEqual(['received']);

    await db.sql`update graphile_worker._private_jobs set locked_at = now() - interval '1 hour' where id = ${stored.handed!.jobId}::bigint`;
    expect(await unlockAbandonedJobs(db.sql, 60)).toMatchObject({ jobs: 1 });
    await eventually(async () => ((await statuses([event.id as string]))[0] === 'processed' ? true : undefined));
  });

  it('processes the job of a statement whose answer was lost once the database answers, when it was committed', async () => {
    const before = fetchedProcessingJobs;
    const ticket = runner.processingHandoff.reserve();
    expect(ticket).toBeDefined();
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 4001 });
    const ids = [newId('iev')];
    // Committed, but as if the connection dropped before the answer: the ack path only knows the ids it chose.
    await storeInboundBatch(
      db.sql,
      [
        {
          sourceId,
          merchantId,
          eventId: event.id as string,
          eventType: event.type as string,
          rawBody: new TextEncoder().encode(JSON.stringify(event)),
          headers: {},
        },
      ],
      { lockedBy: ticket!.poolId, ids },
    );
    ticket!.inDoubt(ids);
    await eventually(async () => ((await statuses([event.id as string]))[0] === 'processed' ? true : undefined));
    await eventually(async () => ((await processingJobs()).length === 0 ? true : undefined));
    expect(fetchedProcessingJobs).toBe(before);

    // Not committed: nothing found, the ticket is freed.
    const other = runner.processingHandoff.reserve();
    other!.inDoubt([newId('iev')]);
  });

  it('queues the job for any worker when no ticket is given: before attach, past its cap, once stopping', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handed = new HandedProcessing(deps, () => gate, 1);
    expect(handed.reserve()).toBeUndefined();
    handed.attach('pool-handoff-test-cap');
    const ticket = handed.reserve();
    expect(ticket?.poolId).toBe('pool-handoff-test-cap');
    expect(handed.reserve()).toBeUndefined(); // the one place is held
    ticket!.cancel();
    const again = handed.reserve();
    expect(again).toBeDefined();
    again!.hand({ jobId: '0', inboundEventIds: [] });
    let stopped = false;
    const stopping = handed.stop().then(() => {
      stopped = true;
    });
    expect(handed.reserve()).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false); // waits for the handed job
    release();
    await stopping;
    expect(stopped).toBe(true);
  });

  it('takes no job when SWITCHYARD_PROCESS_HANDOFF is false', async () => {
    const off = await testDeps(db, { env: { SWITCHYARD_PROCESS_HANDOFF: 'false' } });
    const other = await startRunner(off, { connectionString: db.url, concurrency: 1, pollIntervalMs: 200 });
    try {
      expect(other.processingHandoff.reserve()).toBeUndefined();
    } finally {
      await other.stop();
    }
  });
});
