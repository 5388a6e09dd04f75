// The shares of an endpoint's max_in_flight that worker processes lease (src/outbound/slot-leases.ts,
// sql/0030_endpoint_slot_leases.sql), against a real PostgreSQL. Each SlotLeases stands for one process.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { deliverMessages } from '../../src/outbound/deliver.task.js';
import { EndpointSlots } from '../../src/outbound/endpoint-slots.js';
import { SlotLeases } from '../../src/outbound/slot-leases.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';

const receiver = receiversClosedAfterEach();

let db: TestDatabase;
let deps: Deps;
let merchant: { id: string; apiKey: string };
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  merchant = await aMerchant(deps);
});
afterAll(async () => db.drop());

async function endpoint(maxInFlight: number): Promise<string> {
  const res = await testApp(deps).request(
    '/v1/endpoints',
    jsonRequest('POST', { url: 'http://127.0.0.1:9/hooks', maxInFlight }, merchant.apiKey),
  );
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** A process's leases with no background timer: each test renews by hand. */
function aProcess(options: { ttlMs?: number; now?: () => number } = {}): SlotLeases {
  return new SlotLeases(db.sql, { ...options });
}

/** Slots the database counts for an endpoint in unexpired leases. */
async function leasedSlots(endpointId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select coalesce(sum(slots), 0)::int as n from gw.endpoint_slot_leases where endpoint_id = ${endpointId} and expires_at > now()`;
  return row!.n;
}

describe('SlotLeases', () => {
  it('gives the first process the whole cap and the second none while the first holds it', async () => {
    const ep = await endpoint(4);
    const a = aProcess();
    const b = aProcess();
    await a.grow(ep, 4);
    await b.grow(ep, 4);
    expect([a.usable(ep), b.usable(ep)]).toEqual([4, 0]);
    expect(await leasedSlots(ep)).toBe(4);
  });

  it('shares the cap fairly once both want it: the holder gives back as its attempts end', async () => {
    const ep = await endpoint(4);
    const a = aProcess();
    const b = aProcess();
    await a.grow(ep, 4);
    for (let i = 0; i < 4; i++) a.started(ep, 4);
    await b.grow(ep, 4); // refused, but b's demand is recorded
    await a.renewNow();
    expect(a.usable(ep)).toBe(2); // its fair share; its 4 attempts keep their slots
    expect(await leasedSlots(ep)).toBe(4);
    a.ended(ep);
    a.ended(ep);
    await a.renewNow();
    expect(await leasedSlots(ep)).toBe(2);
    await new Promise((r) => setTimeout(r, 260)); // b asks again after its grow interval
    await b.grow(ep, 4);
    expect([a.usable(ep), b.usable(ep)]).toEqual([2, 2]);
  });

  it('frees the share of a process that stopped renewing (killed) once its lease expires, and of one stopped at once', async () => {
    const ep = await endpoint(3);
    const killed = aProcess({ ttlMs: 300 });
    await killed.grow(ep, 3);
    killed.started(ep, 3);
    const other = aProcess();
    await other.grow(ep, 3);
    expect(other.usable(ep)).toBe(0);
    await new Promise((r) => setTimeout(r, 600));
    expect(killed.usable(ep)).toBe(0); // it stops starting attempts on its own once its lease may have expired
    await new Promise((r) => setTimeout(r, 260));
    await other.grow(ep, 3);
    expect(other.usable(ep)).toBe(3);

    await other.stop();
    const third = aProcess();
    await third.grow(ep, 3);
    expect(third.usable(ep)).toBe(3);
  });

  it('gives back an idle share within three renewals (a second each)', async () => {
    const ep = await endpoint(8);
    const a = aProcess();
    await a.grow(ep, 8);
    a.started(ep, 8);
    a.ended(ep);
    await a.renewNow(); // the window that wanted 8 ends
    await a.renewNow(); // nothing wanted since
    await a.renewNow();
    expect(await leasedSlots(ep)).toBe(0);
    expect(a.usable(ep)).toBe(0);
  });

  it('keeps the slot of an attempt started while a renewal that saw none was on its way', async () => {
    const ep = await endpoint(2);
    const a = aProcess();
    await a.grow(ep, 2);
    await a.renewNow(); // closes the window that wanted 2: the next renewal reports nothing wanted
    const renewing = a.renewNow();
    await new Promise((r) => setImmediate(r)); // the statement has left, its answer has not come
    a.started(ep, 2); // on the share it still holds, before the answer
    a.started(ep, 2);
    await renewing;
    const b = aProcess();
    await b.grow(ep, 2);
    expect(b.usable(ep)).toBe(0);
    expect(await leasedSlots(ep)).toBe(2);
  });

  it('leases nothing of an endpoint that is not enabled', async () => {
    const ep = await endpoint(8);
    await db.sql`update gw.endpoints set status = 'disabled' where id = ${ep}`;
    const a = aProcess();
    await a.grow(ep, 8);
    expect(a.usable(ep)).toBe(0);
  });

  it('never lets the attempts in flight of three processes exceed max_in_flight, whatever they do in whatever order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ p: fc.integer({ min: 0, max: 2 }), op: fc.constantFrom('start', 'end', 'grow', 'renew', 'settle') }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (max, ops) => {
          const ep = await endpoint(max);
          let clock = 0;
          // A clock of our own: grow is rate-limited per 250 ms, so each step moves it past that.
          const procs = [0, 1, 2].map(() => aProcess({ now: () => clock }));
          const inFlight = [0, 0, 0];
          // Lease statements run in the background while attempts start and end, as in a process.
          const running: Promise<void>[] = [];
          for (const { p, op } of ops) {
            clock += 300;
            const leases = procs[p]!;
            if (op === 'start' && inFlight[p]! < leases.usable(ep)) {
              leases.started(ep, max);
              inFlight[p]! += 1;
            } else if (op === 'end' && inFlight[p]! > 0) {
              leases.ended(ep);
              inFlight[p]! -= 1;
            } else if (op === 'grow') running.push(leases.grow(ep, max));
            else if (op === 'renew') running.push(leases.renewNow());
            else if (op === 'settle') await Promise.all(running.splice(0));
            expect(inFlight.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(max);
            expect(await leasedSlots(ep)).toBeLessThanOrEqual(max);
          }
          await Promise.all(running);
          for (const leases of procs) await leases.stop();
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('a worker whose share of an endpoint is none (another process holds its slots)', () => {
  // The delivery timeout sets how long a slow endpoint's attempts are put off: 2.5–5 s at 15 s.
  const slowDeps = async () => testDeps(db, { env: { SWITCHYARD_DELIVERY_TIMEOUT_MS: '15000' } });

  async function turnedAway(held: boolean) {
    const d = { ...(await slowDeps()), secretBox: deps.secretBox };
    const r = await receiver();
    // A merchant of its own: emitEvent sends to every endpoint of the merchant.
    const m = await aMerchant(d);
    const res = await testApp(d).request('/v1/endpoints', jsonRequest('POST', { url: r.url, maxInFlight: 2 }, m.apiKey));
    const ep = ((await res.json()) as { id: string }).id;
    const other = aProcess();
    await other.grow(ep, 2);
    other.started(ep, 2);
    other.started(ep, 2);
    if (held) await db.sql`update gw.endpoints set held_until = now() + interval '4 seconds' where id = ${ep}`;
    const emitted = await emitEvent(db.sql, {
      merchantId: m.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: `away-${held}`,
      data: {},
      at: new Date(),
    });
    const messageId = emitted!.messageIds[0]!;
    const before = Date.now();
    await deliverMessages(d, [{ messageId, attempt: 1 }], new EndpointSlots(undefined, undefined, undefined, 8, aProcess()));
    const [row] = await db.sql<
      { attempts: number; next_attempt_at: Date }[]
    >`select attempts, next_attempt_at from gw.messages where id = ${messageId}`;
    const [e] = await db.sql<{ held_until: Date | null }[]>`select held_until from gw.endpoints where id = ${ep}`;
    return { sent: r.received.length, attempts: row!.attempts, inMs: row!.next_attempt_at.getTime() - before, heldUntil: e!.held_until };
  }

  it('puts the attempt off for seconds, uncounted, when the endpoint is held (found slow by another process)', async () => {
    const away = await turnedAway(true);
    expect({ sent: away.sent, attempts: away.attempts }).toEqual({ sent: 0, attempts: 0 });
    expect(away.inMs).toBeGreaterThanOrEqual(2_500);
    expect(away.heldUntil!.getTime()).toBeGreaterThan(Date.now());
  });

  it('puts it off briefly when the endpoint is only busy', async () => {
    const away = await turnedAway(false);
    expect({ sent: away.sent, attempts: away.attempts }).toEqual({ sent: 0, attempts: 0 });
    expect(away.inMs).toBeLessThan(1_000);
    expect(away.heldUntil).toBeNull();
  });
});
