// One merchant's bad event must never cost another merchant's genuine events their ack:
// concurrent requests share one statement (the batcher), so a row PostgreSQL refuses would
// otherwise fail every request of its batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { createLogger } from '../../src/app/node/logger.js';
import { Batcher, createInboundBatcher, storeInboundGroups } from '../../src/inbound/batcher.js';
import type { NewInboundEvent, StoredInboundEvent } from '../../src/inbound/inbound-event-store.js';
import { signAdyen, signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const STRIPE_SECRET = 'whsec_isolation_Q2hhbmdlTWVQbGVhc2UxMjM0NTY3';
const ADYEN_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

let db: TestDatabase;
let base: Deps;
const sources: { genuine: string; poisoner: string; adyen: string } = { genuine: '', poisoner: '', adyen: '' };

beforeAll(async () => {
  db = await createTestDatabase();
  base = await testDeps(db);
  const app = testApp(base);
  const create = async (apiKey: string, body: Record<string, unknown>) => {
    const res = await app.request('/v1/sources', jsonRequest('POST', body, apiKey));
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const honest = await aMerchant(base, 'Honest');
  const mallory = await aMerchant(base, 'Mallory');
  sources.genuine = await create(honest.apiKey, { provider: 'stripe', secret: STRIPE_SECRET });
  sources.poisoner = await create(mallory.apiKey, { provider: 'stripe', secret: STRIPE_SECRET });
  sources.adyen = await create(mallory.apiKey, { provider: 'adyen', secret: ADYEN_KEY });
});
afterAll(async () => db.drop());

/** An app whose inbound route batches, with its log lines captured as parsed objects. */
function batchingApp(windowMs: number) {
  const raw: string[] = [];
  const batcher = createInboundBatcher(db.sql, { maxWeight: 100, windowMs, maxInFlight: 1 });
  const app = testApp({ ...base, inboundBatcher: batcher, logger: createLogger('info', { write: (line: string) => void raw.push(line) }) });
  const lines = () => raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { app, batcher, lines };
}

async function postStripe(app: ReturnType<typeof testApp>, sourceId: string, body: string): Promise<Response> {
  return app.request(`/inbound/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, new Date()) },
    body,
  });
}

/** A genuine Stripe event's id and body. */
function genuineEvent(): { eventId: string; body: string } {
  const event = buildStripeEvent('payment_intent.succeeded', { amount: 1250 });
  return { eventId: event.id as string, body: JSON.stringify(event) };
}

/** A correctly signed Stripe event whose id or type holds text PostgreSQL refuses. */
function poisonedBodies(): string[] {
  const e = buildStripeEvent('payment_intent.succeeded', { amount: 1 });
  const stamp = Math.random().toString(36).slice(2);
  return [
    JSON.stringify({ ...e, id: `evt_nul_${stamp}\u0000x` }),
    JSON.stringify({ ...e, id: `evt_lone_${stamp}\ud800` }),
    JSON.stringify({ ...e, id: `evt_low_${stamp}`, type: 'payment_intent.succeeded\udc00' }),
    JSON.stringify({ ...e, id: `evt_type_${stamp}`, type: '\u0000' }),
  ];
}

async function storedCount(eventIds: string[]): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events where event_id = any(${eventIds}::text[])`;
  return row!.n;
}

/** Runs `fn` while a trigger makes PostgreSQL refuse every inbound event whose id starts `evt_refuse_me`. */
async function withRefusingTrigger(fn: () => Promise<void>): Promise<void> {
  await db.sql.unsafe(`
    create function gw.test_refuse_marked() returns trigger language plpgsql as $$
    begin
      if new.event_id like 'evt_refuse_me%' then raise exception 'refused by the test trigger'; end if;
      return new;
    end $$;
    create trigger test_refuse_marked before insert on gw.inbound_events
      for each row execute function gw.test_refuse_marked()`);
  try {
    await fn();
  } finally {
    await db.sql.unsafe('drop trigger test_refuse_marked on gw.inbound_events; drop function gw.test_refuse_marked()');
  }
}

describe('a poisoned inbound event', () => {
  it('is refused alone with 400 event_text_invalid while another merchant’s concurrent genuine events are all 200 and stored', async () => {
    const { app, batcher, lines } = batchingApp(200);
    const genuine = Array.from({ length: 40 }, genuineEvent);
    const poisoned = Array.from({ length: 5 }, poisonedBodies).flat();
    const requests = [
      ...genuine.map((g) => postStripe(app, sources.genuine, g.body).then((r) => ({ kind: 'genuine', r }))),
      ...poisoned.map((b) => postStripe(app, sources.poisoner, b).then((r) => ({ kind: 'poisoned', r }))),
    ];
    const answers = await Promise.all(requests);
    for (const { kind, r } of answers) {
      if (kind === 'genuine') expect(r.status).toBe(200);
      else {
        expect(r.status).toBe(400);
        expect(r.headers.get('content-type')).toBe('application/problem+json');
        expect(((await r.json()) as { code: string }).code).toBe('event_text_invalid');
      }
    }
    expect(await storedCount(genuine.map((g) => g.eventId))).toBe(genuine.length);
    const [nRow] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from gw.inbound_events where source_id = ${sources.poisoner}`;
    const poisonedStored = nRow!.n;
    expect(poisonedStored).toBe(0);
    expect(batcher.stats.batches).toBeGreaterThan(0);

    // One line per refused request, and no stack anywhere.
    const refusals = lines().filter((l) => l.msg === 'inbound event refused');
    expect(refusals).toHaveLength(poisoned.length);
    expect(refusals.every((l) => l.code === 'event_text_invalid' && l.sourceId === sources.poisoner)).toBe(true);
    expect(lines().some((l) => JSON.stringify(l).includes('"stack"'))).toBe(false);
  });

  it('in an Adyen batch item is refused with the whole request, nothing of it stored', async () => {
    const { app } = batchingApp(1);
    const items = [
      { pspReference: 'PSPOK00000000001', eventCode: 'AUTHORISATION', success: 'true' },
      { pspReference: 'PSP\u0000BAD', eventCode: 'AUTHORISATION', success: 'true' },
    ].map((i) => ({ ...i, merchantAccountCode: 'Acme', merchantReference: 'ord-1', amount: { value: 1000, currency: 'EUR' } }));
    const body = await signAdyen({ live: 'false', notificationItems: items.map((item) => ({ NotificationRequestItem: item })) }, ADYEN_KEY);
    const res = await app.request(`/inbound/${sources.adyen}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('event_text_invalid');
    const [nRow] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events where source_id = ${sources.adyen}`;
    const n = nRow!.n;
    expect(n).toBe(0);
  });
});

describe('the inbound batcher', () => {
  it('isolates any row the database refuses: with a trigger refusing one event, its request alone fails and every other is stored', async () => {
    await withRefusingTrigger(async () => {
      const { app, lines } = batchingApp(200);
      const genuine = Array.from({ length: 30 }, genuineEvent);
      const marked = JSON.stringify({ ...buildStripeEvent('payment_intent.succeeded', { amount: 5 }), id: `evt_refuse_me_${Date.now()}` });
      const answers = await Promise.all([
        ...genuine.slice(0, 15).map((g) => postStripe(app, sources.genuine, g.body)),
        postStripe(app, sources.poisoner, marked),
        ...genuine.slice(15).map((g) => postStripe(app, sources.genuine, g.body)),
      ]);
      const refused = answers[15]!;
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { code: string }).code).toBe('store_unavailable');
      expect(answers.filter((_, i) => i !== 15).every((r) => r.status === 200)).toBe(true);
      expect(await storedCount(genuine.map((g) => g.eventId))).toBe(genuine.length);
      // The failure is one line naming the database's reason, without a stack.
      const failures = lines().filter((l) => l.msg === 'inbound event could not be stored');
      expect(failures).toHaveLength(1);
      expect(String(failures[0]!.reason)).toContain('refused by the test trigger');
      expect(JSON.stringify(failures[0])).not.toContain('stack');
    });
  });

  it('splits a refused batch only down to the requests that fail alone, each request still all-or-nothing', async () => {
    await withRefusingTrigger(async () => {
      let runs = 0;
      const batcher = new Batcher<NewInboundEvent[], StoredInboundEvent[]>({
        maxWeight: 100,
        windowMs: 1,
        maxInFlight: 1,
        weight: (events) => events.length,
        isolate: () => true,
        run: (groups) => {
          runs += 1;
          return storeInboundGroups(db.sql, groups);
        },
      });
      const row = (eventId: string): NewInboundEvent => ({
        sourceId: sources.genuine,
        merchantId: '',
        eventId,
        eventType: 'payment_intent.succeeded',
        rawBody: new TextEncoder().encode('{}'),
        headers: {},
      });
      const [source] = await db.sql<{ merchant_id: string }[]>`select merchant_id from gw.sources where id = ${sources.genuine}`;
      const merchantId = source!.merchant_id;
      const stamp = Date.now().toString(36);
      const groups = Array.from({ length: 16 }, (_, i) =>
        [row(`evt_iso_${stamp}_${i}_a`), row(i === 9 ? `evt_refuse_me_${stamp}` : `evt_iso_${stamp}_${i}_b`)].map((r) => ({
          ...r,
          merchantId,
        })),
      );
      const settled = await Promise.allSettled(groups.map((g) => batcher.submit(g)));
      expect(settled.map((s) => s.status)).toEqual(groups.map((_, i) => (i === 9 ? 'rejected' : 'fulfilled')));
      // the refused request's other event was not stored either: a request is never split
      expect(await storedCount([`evt_iso_${stamp}_9_a`])).toBe(0);
      expect(await storedCount(groups.flat().map((r) => r.eventId))).toBe(30);
      expect(runs).toBeLessThanOrEqual(1 + 2 * 4);
    });
  });
});
