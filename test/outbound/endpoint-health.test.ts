// Endpoint health: the circuit breaker, disabling after sustained failure (with
// endpoint.disabled to the merchant's other endpoints), rateLimitPerSecond, and isolation
// of a hanging endpoint by per-endpoint queues, against real receivers and a real runner.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { startRunner } from '../../src/app/worker.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { eventually } from '../eventually.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';

let db: TestDatabase;
let base: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  base = await testDeps(db, {
    env: { SWITCHYARD_CIRCUIT_FAILURES: '3', SWITCHYARD_CIRCUIT_COOLDOWN_SECONDS: '60', SWITCHYARD_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1' },
  });
});
afterAll(async () => db.drop());
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A clock the test moves by hand. */
function movableClock(start: string): Clock & { advance(seconds: number): void } {
  let t = new Date(start).getTime();
  const clock = (() => new Date(t)) as Clock & { advance(seconds: number): void };
  clock.advance = (seconds) => {
    t += seconds * 1000;
  };
  return clock;
}

const receiver = receiversClosedAfterEach();

async function endpointFor(d: Deps, merchant: { apiKey: string }, url: string): Promise<string> {
  const res = await testApp(d).request('/v1/endpoints', jsonRequest('POST', { url }, merchant.apiKey));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function emit(d: Deps, merchantId: string, key: string): Promise<string[]> {
  const r = await emitEvent(d.sql, { merchantId, type: 'payment.captured', paymentId: null, dedupeKey: key, data: { key }, at: d.clock() });
  return r!.messageIds;
}

async function endpointRow(id: string) {
  const [row] = await db.sql<
    {
      status: string;
      consecutive_failures: number;
      circuit_open_until: Date | null;
      failing_since: Date | null;
      disabled_reason: string | null;
    }[]
  >`
    select status, consecutive_failures, circuit_open_until, failing_since, disabled_reason from gw.endpoints where id = ${id}`;
  return row!;
}

async function queuedAttempts(messageId: string): Promise<{ attempt: number; run_at: Date }[]> {
  return db.sql<{ attempt: number; run_at: Date }[]>`
    select (e.value->>'attempt')::int as attempt, j.run_at
      from graphile_worker._private_jobs j
     cross join lateral json_array_elements(case when json_typeof(j.payload) = 'array' then j.payload else json_build_array(j.payload) end) e
     where e.value->>'messageId' = ${messageId}
     order by j.id`;
}

describe('the circuit breaker', () => {
  it('opens after the configured consecutive failures, sends nothing while open, and closes after a successful probe', async () => {
    const clock = movableClock('2026-11-22T12:00:00Z');
    const deps = { ...base, clock };
    const merchant = await aMerchant(deps);
    let healthy = false;
    const r = await receiver(() => (healthy ? 200 : 500));
    const endpointId = await endpointFor(deps, merchant, r.url);
    const [a] = await emit(deps, merchant.id, 'cb-a');
    const [b] = await emit(deps, merchant.id, 'cb-b');
    const [c] = await emit(deps, merchant.id, 'cb-c');
    for (const id of [a!, b!, c!]) await deliverMessage(deps, { messageId: id, attempt: 1 });
    expect(r.received).toHaveLength(3);
    const open = await endpointRow(endpointId);
    expect(open.consecutive_failures).toBe(3);
    expect(open.circuit_open_until?.toISOString()).toBe('2026-11-22T12:01:00.000Z');

    // While open, attempt 2 of message a is put off to the end of the cool-down, unsent and uncounted.
    await deliverMessage(deps, { messageId: a!, attempt: 2 });
    expect(r.received).toHaveLength(3);
    const [msg] = await db.sql<
      { attempts: number; next_attempt_at: Date }[]
    >`select attempts, next_attempt_at from gw.messages where id = ${a!}`;
    expect(msg!.attempts).toBe(1);
    expect(msg!.next_attempt_at.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-11-22T12:01:00Z'));
    expect((await queuedAttempts(a!)).filter((j) => j.attempt === 2).length).toBeGreaterThanOrEqual(1);

    // After the cool-down one probe goes out; it succeeds and the circuit closes.
    clock.advance(61);
    healthy = true;
    await deliverMessage(deps, { messageId: a!, attempt: 2 });
    expect(r.received).toHaveLength(4);
    const closed = await endpointRow(endpointId);
    expect(closed).toMatchObject({ consecutive_failures: 0, circuit_open_until: null, failing_since: null });
  });

  it('lets only one probe through when the cool-down ends, and keeps the circuit open when the probe fails', async () => {
    const clock = movableClock('2026-11-22T13:00:00Z');
    const deps = { ...base, clock };
    const merchant = await aMerchant(deps);
    const r = await receiver(() => 503);
    const endpointId = await endpointFor(deps, merchant, r.url);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await emit(deps, merchant.id, `probe-${i}`))[0]!);
    for (const id of ids.slice(0, 3)) await deliverMessage(deps, { messageId: id, attempt: 1 });
    expect(r.received).toHaveLength(3);
    clock.advance(61);
    await Promise.all(ids.slice(3).map((id) => deliverMessage(deps, { messageId: id, attempt: 1 })));
    expect(r.received).toHaveLength(4);
    const row = await endpointRow(endpointId);
    expect(row.circuit_open_until!.getTime()).toBeGreaterThan(clock().getTime());
  });
});

describe('disabling an endpoint that keeps failing', () => {
  it('disables it after 5 days of failed attempts and tells the merchant on its other endpoints', async () => {
    const clock = movableClock('2026-11-01T00:00:00Z');
    const deps = { ...(await testDeps(db, { env: { SWITCHYARD_CIRCUIT_FAILURES: '1000' } })), clock };
    const merchant = await aMerchant(deps);
    const failing = await receiver(() => 500);
    const other = await receiver(() => 200);
    const failingId = await endpointFor(deps, merchant, failing.url);
    const messages = await emit(deps, merchant.id, 'd5-first');
    const otherId = await endpointFor(deps, merchant, other.url);
    await deliverMessage(deps, { messageId: messages[0]!, attempt: 1 });
    expect((await endpointRow(failingId)).status).toBe('enabled');

    clock.advance(4 * 24 * 3600);
    const [m2] = await emit(deps, merchant.id, 'd5-second');
    const toFailing2 = (
      await db.sql<
        { id: string }[]
      >`select id from gw.messages where event_id = (select event_id from gw.messages where id = ${m2!}) and endpoint_id = ${failingId}`
    )[0]!.id;
    await deliverMessage(deps, { messageId: toFailing2, attempt: 1 });
    expect((await endpointRow(failingId)).status).toBe('enabled');

    clock.advance(24 * 3600);
    const [m3] = await emit(deps, merchant.id, 'd5-third');
    const toFailing3 = (
      await db.sql<
        { id: string }[]
      >`select id from gw.messages where event_id = (select event_id from gw.messages where id = ${m3!}) and endpoint_id = ${failingId}`
    )[0]!.id;
    await deliverMessage(deps, { messageId: toFailing3, attempt: 1 });
    const row = await endpointRow(failingId);
    expect(row.status).toBe('disabled');
    expect(row.disabled_reason).toContain('every attempt has failed since 2026-11-01T00:00:00.000Z');
    const [msg] = await db.sql<{ status: string }[]>`select status from gw.messages where id = ${toFailing3}`;
    expect(msg!.status).toBe('failed');

    const notices = await db.sql<{ endpoint_id: string; payload: Buffer }[]>`
      select m.endpoint_id, p.payload from gw.events e join gw.messages m on m.event_id = e.id
        join gw.event_payloads p on p.event_id = e.id
       where e.merchant_id = ${merchant.id} and e.type = 'endpoint.disabled'`;
    expect(notices.map((n) => n.endpoint_id)).toEqual([otherId]);
    expect(JSON.parse(notices[0]!.payload.toString('utf8'))).toMatchObject({ type: 'endpoint.disabled', data: { endpointId: failingId } });
  });

  it('does not disable an endpoint whose failures are broken by a success', async () => {
    const clock = movableClock('2026-10-01T00:00:00Z');
    const deps = { ...(await testDeps(db, { env: { SWITCHYARD_CIRCUIT_FAILURES: '1000' } })), clock };
    const merchant = await aMerchant(deps);
    let n = 0;
    const r = await receiver(() => (n++ === 1 ? 200 : 500));
    const endpointId = await endpointFor(deps, merchant, r.url);
    for (let day = 0; day < 7; day++) {
      const [id] = await emit(deps, merchant.id, `mixed-${day}`);
      await deliverMessage(deps, { messageId: id!, attempt: 1 });
      clock.advance(24 * 3600);
    }
    const row = await endpointRow(endpointId);
    expect(row.status).toBe('enabled');
    expect(row.failing_since?.toISOString()).toBe('2026-10-03T00:00:00.000Z');
  });
});

describe('re-enabling an endpoint', () => {
  it('clears the failure streak, the open circuit and the disabled reason', async () => {
    const deps = await testDeps(db);
    const merchant = await aMerchant(deps);
    const r = await receiver(() => 410);
    const endpointId = await endpointFor(deps, merchant, r.url);
    const [id] = await emit(deps, merchant.id, 'reenable-1');
    await deliverMessage(deps, { messageId: id!, attempt: 1 });
    expect(await endpointRow(endpointId)).toMatchObject({
      status: 'disabled',
      disabled_reason: 'the endpoint answered 410 Gone',
      consecutive_failures: 1,
    });
    const res = await testApp(deps).request(`/v1/endpoints/${endpointId}`, jsonRequest('PATCH', { status: 'enabled' }, merchant.apiKey));
    expect(res.status).toBe(200);
    expect(await endpointRow(endpointId)).toEqual({
      status: 'enabled',
      consecutive_failures: 0,
      circuit_open_until: null,
      failing_since: null,
      disabled_reason: null,
    });
  });
});

describe('rateLimitPerSecond', () => {
  it('puts off attempts beyond the limit to the next second without sending them', async () => {
    const clock = movableClock('2026-11-22T14:00:00.100Z');
    const deps = { ...base, clock };
    const merchant = await aMerchant(deps);
    const r = await receiver(() => 200);
    const endpointId = await endpointFor(deps, merchant, r.url);
    await db.sql`update gw.endpoints set rate_limit_per_second = 2 where id = ${endpointId}`;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await emit(deps, merchant.id, `rl-${i}`))[0]!);
    for (const id of ids) await deliverMessage(deps, { messageId: id, attempt: 1 });
    expect(r.received).toHaveLength(2);
    const [third] = await db.sql<
      { next_attempt_at: Date; attempts: number }[]
    >`select next_attempt_at, attempts from gw.messages where id = ${ids[2]!}`;
    expect(third!.attempts).toBe(0);
    expect(third!.next_attempt_at.getTime()).toBeGreaterThanOrEqual(Date.parse('2026-11-22T14:00:01.000Z'));
    clock.advance(1);
    await deliverMessage(deps, { messageId: ids[2]!, attempt: 1 });
    expect(r.received).toHaveLength(3);
  });
});

/** A receiver on 127.0.0.1 that never answers: the requests it holds, and its URL; closed after the test. */
async function hangingReceiver(): Promise<{ hanging: ServerResponse[]; url: string }> {
  const hanging: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    hanging.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { hanging, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks` };
}

describe('isolation', () => {
  it('keeps delivering to a healthy endpoint while a hanging one holds no more than its max_in_flight workers', async () => {
    const deps = await testDeps(db, { env: { SWITCHYARD_DELIVERY_TIMEOUT_MS: '30000' } });
    const merchant = await aMerchant(deps);
    const { hanging, url: hangUrl } = await hangingReceiver();
    const healthy = await receiver(() => 200);
    const hangId = await endpointFor(deps, merchant, hangUrl);
    await endpointFor(deps, merchant, healthy.url);
    await db.sql`update gw.endpoints set max_in_flight = 2 where id = ${hangId}`;
    for (let i = 0; i < 20; i++) await emit(deps, merchant.id, `iso-${i}`);

    const runner = await startRunner(deps, { connectionString: db.url, concurrency: 8, pollIntervalMs: 100 });
    cleanups.push(async () => {
      for (const res of hanging) res.destroy();
      await runner.stop();
    });
    await healthy.waitFor(20, 20_000);
    expect(healthy.received).toHaveLength(20);
    expect(hanging.length).toBe(2);
  });

  it('lets a hanging endpoint hold no more than a quarter of the workers, whatever its max_in_flight', async () => {
    const deps = await testDeps(db, { env: { SWITCHYARD_DELIVERY_TIMEOUT_MS: '30000' } });
    const merchant = await aMerchant(deps);
    const { hanging, url: hangUrl } = await hangingReceiver();
    const healthy = await receiver(() => 200);
    const hangId = await endpointFor(deps, merchant, hangUrl); // max_in_flight 8, the default
    await endpointFor(deps, merchant, healthy.url);
    for (let i = 0; i < 20; i++) await emit(deps, merchant.id, `quarter-${i}`);

    const runner = await startRunner(deps, { connectionString: db.url, concurrency: 4, pollIntervalMs: 100 });
    cleanups.push(async () => {
      for (const res of hanging) res.destroy();
      await runner.stop();
    });
    await healthy.waitFor(20, 20_000);
    expect(healthy.received).toHaveLength(20);
    expect(hanging.length).toBe(1);
    // Found slow, the endpoint is held: its attempts come back together, in seconds.
    const held = await eventually(
      async () => {
        const [ep] = await db.sql<{ held_until: Date | null }[]>`select held_until from gw.endpoints where id = ${hangId}`;
        return ep!.held_until && ep!.held_until.getTime() > Date.now() ? ep!.held_until : undefined;
      },
      10_000,
      'the hanging endpoint held',
    );
    expect(held.getTime()).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(hanging.length).toBe(1);
  });
});
