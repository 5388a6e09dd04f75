// Payload filters (src/core/events/event-filter.ts, sql/0095_endpoint_filters.sql): what the API accepts and refuses,
// the filter/test route, and the fan-out making messages only for endpoints whose event types and filter both match,
// through real Stripe processing to real receivers on 127.0.0.1.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvents } from '../../src/core/events/outbox.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';
import { recordInboundEvent } from '../record-inbound-event.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();
const EUR_OVER_100 = 'data.currency == "EUR" && data.amount >= 10000';

async function createEndpoint(apiKey: string, body: Record<string, unknown>) {
  const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', body, apiKey));
  return { res, json: (await res.json()) as Record<string, unknown> & { id: string } };
}

describe('filter on POST and PATCH /v1/endpoints', () => {
  it('stores and shows the filter; PATCH replaces it, null clears it', async () => {
    const m = await aMerchant(deps);
    const { res, json } = await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/hook', filter: EUR_OVER_100 });
    expect(res.status).toBe(201);
    expect(json.filter).toBe(EUR_OVER_100);
    const app = testApp(deps);
    const patched = await app.request(`/v1/endpoints/${json.id}`, jsonRequest('PATCH', { filter: 'type == "payment.refunded"' }, m.apiKey));
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { filter: string }).filter).toBe('type == "payment.refunded"');
    const cleared = await app.request(`/v1/endpoints/${json.id}`, jsonRequest('PATCH', { filter: null }, m.apiKey));
    expect(((await cleared.json()) as { filter: string | null }).filter).toBeNull();
    const [row] = await db.sql<{ filter_version: number }[]>`select filter_version from gw.endpoints where id = ${json.id}`;
    expect(row!.filter_version).toBe(2);
  });

  it('refuses a bad filter with 400 invalid_filter naming the position and the reason, and stores nothing', async () => {
    const m = await aMerchant(deps);
    const { res, json } = await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/hook', filter: 'data.amount >= ' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(json).toMatchObject({ code: 'invalid_filter', status: 400, errors: [{ path: ['filter', 15] }] });
    expect(json.detail).toMatch(/position 15/);
    const [{ n }] = (await db.sql`select count(*)::int as n from gw.endpoints where merchant_id = ${m.id}`) as unknown as [{ n: number }];
    expect(n).toBe(0);

    const ok = await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/hook' });
    const patched = await testApp(deps).request(
      `/v1/endpoints/${ok.json.id}`,
      jsonRequest('PATCH', { filter: 'data.currency == "EUR" && amount > 1' }, m.apiKey),
    );
    expect(patched.status).toBe(400);
    const problem = (await patched.json()) as { code: string; detail: string; errors: { path: unknown[] }[] };
    expect(problem.code).toBe('invalid_filter');
    expect(problem.detail).toMatch(/position 26: .*amount/);
    expect(problem.errors[0]!.path).toEqual(['filter', 26]);
    const types = await testApp(deps).request(`/v1/endpoints/${ok.json.id}`, jsonRequest('PATCH', { filter: 'data.currency' }, m.apiKey));
    expect(((await types.json()) as { detail: string }).detail).toMatch(/bool/);
  });
});

describe('POST /v1/endpoints/{id}/filter/test', () => {
  it('answers whether an event would make a message: type list and filter both', async () => {
    const m = await aMerchant(deps);
    const { json } = await createEndpoint(m.apiKey, {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['payment.captured'],
      filter: EUR_OVER_100,
    });
    const test = async (event: unknown) => {
      const res = await testApp(deps).request(`/v1/endpoints/${json.id}/filter/test`, jsonRequest('POST', { event }, m.apiKey));
      expect(res.status).toBe(200);
      return res.json();
    };
    expect(await test({ type: 'payment.captured', data: { currency: 'EUR', amount: 12500 } })).toEqual({
      matches: true,
      typeMatches: true,
      filterMatches: true,
    });
    expect(await test({ type: 'payment.captured', data: { currency: 'USD', amount: 12500 } })).toEqual({
      matches: false,
      typeMatches: true,
      filterMatches: false,
    });
    expect(await test({ type: 'payment.refunded', data: { currency: 'EUR', amount: 12500 } })).toEqual({
      matches: false,
      typeMatches: false,
      filterMatches: true,
    });
    // a field the event lacks: an evaluation error, no match
    expect(await test({ type: 'payment.captured', data: {} })).toMatchObject({ matches: false, filterMatches: false });
  });

  it('is 404 for another merchant’s endpoint and 400 for a body without an event', async () => {
    const m = await aMerchant(deps);
    const other = await aMerchant(deps, 'Other');
    const { json } = await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/hook', filter: EUR_OVER_100 });
    const app = testApp(deps);
    const event = { type: 'payment.captured', data: {} };
    expect((await app.request(`/v1/endpoints/${json.id}/filter/test`, jsonRequest('POST', { event }, other.apiKey))).status).toBe(404);
    expect((await app.request(`/v1/endpoints/${json.id}/filter/test`, jsonRequest('POST', {}, m.apiKey))).status).toBe(400);
  });
});

describe('the fan-out', () => {
  it('sends the EUR payment and not the USD one to the filtered endpoint; the unfiltered one gets both', async () => {
    const m = await aMerchant(deps, 'Filters');
    const app = testApp(deps);
    const src = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: 'whsec_filters0123456789abcdefXYZ' }, m.apiKey),
    );
    const sourceId = ((await src.json()) as { id: string }).id;
    const filtered = await receiver();
    const all = await receiver();
    const f = await createEndpoint(m.apiKey, { url: filtered.url, eventTypes: ['payment.captured'], filter: EUR_OVER_100 });
    const a = await createEndpoint(m.apiKey, { url: all.url, eventTypes: ['payment.captured'] });

    const process = async (event: Record<string, unknown>) => {
      const stored = await db.sql.begin((tx) =>
        recordInboundEvent(tx, {
          sourceId,
          merchantId: m.id,
          eventId: event.id as string,
          eventType: event.type as string,
          rawBody: new TextEncoder().encode(JSON.stringify(event)),
          headers: {},
        }),
      );
      await processInboundEvent(deps, { inboundEventId: stored.id });
    };
    await process(buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_filter_eur', amount: 12500, currency: 'eur' }));
    await process(buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_filter_usd', amount: 12500, currency: 'usd' }));
    await process(buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_filter_small', amount: 500, currency: 'eur' }));

    const messages = await db.sql<{ id: string; endpoint_id: string; psp_reference: string }[]>`
      select m.id, m.endpoint_id, p.psp_reference
        from gw.messages m join gw.events e on e.id = m.event_id join gw.payments p on p.id = e.payment_id
       where m.merchant_id = ${m.id} order by m.id`;
    const to = (ep: string) => messages.filter((x) => x.endpoint_id === ep).map((x) => x.psp_reference);
    expect(to(f.json.id)).toEqual(['pi_filter_eur']);
    expect(to(a.json.id).sort()).toEqual(['pi_filter_eur', 'pi_filter_small', 'pi_filter_usd']);

    for (const msg of messages) await deliverMessage(deps, { messageId: msg.id, attempt: 1 });
    expect(filtered.received).toHaveLength(1);
    const body = JSON.parse(filtered.received[0]!.body.toString('utf8')) as { type: string; data: { currency: string; amount: number } };
    expect(body).toMatchObject({ type: 'payment.captured', data: { currency: 'EUR', amount: 12500 } });
    expect(all.received).toHaveLength(3);
  });

  it('makes messages per endpoint in one emit of many events, and a changed filter applies to the next emit', async () => {
    const m = await aMerchant(deps);
    const big = await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/big', filter: 'data.amount >= 100' });
    const refunds = await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/refunds', filter: 'type == "payment.refunded"' });
    await createEndpoint(m.apiKey, { url: 'http://127.0.0.1:9/missing', filter: 'data.customer.country == "DE"' });
    let n = 0;
    const emit = (events: { type: string; amount: number }[]) =>
      db.sql.begin((tx) =>
        emitEvents(
          tx,
          events.map((e) => ({
            merchantId: m.id,
            type: e.type,
            paymentId: null,
            dedupeKey: `filters-${++n}`,
            data: { amount: e.amount },
            at: new Date(),
          })),
        ),
      );
    const first = await emit([
      { type: 'payment.captured', amount: 50 },
      { type: 'payment.captured', amount: 150 },
      { type: 'payment.refunded', amount: 50 },
    ]);
    const endpointsOf = async (ids: string[]) =>
      (await db.sql<{ endpoint_id: string }[]>`select endpoint_id from gw.messages where id = any(${ids}::text[]) order by id`).map(
        (r) => r.endpoint_id,
      );
    // `missing` reads a field no event has: an evaluation error, so it gets none of them
    expect(await endpointsOf(first[0]!.messageIds)).toEqual([]);
    expect(await endpointsOf(first[1]!.messageIds)).toEqual([big.json.id]);
    expect(await endpointsOf(first[2]!.messageIds)).toEqual([refunds.json.id]);

    await testApp(deps).request(`/v1/endpoints/${big.json.id}`, jsonRequest('PATCH', { filter: 'data.amount < 100' }, m.apiKey));
    const second = await emit([{ type: 'payment.captured', amount: 50 }]);
    expect(await endpointsOf(second[0]!.messageIds)).toEqual([big.json.id]);
  });

  it('makes a message exactly for each endpoint whose types and filter take the event, for any endpoints and events (property)', async () => {
    // Each endpoint: an optional type list and an optional threshold filter; each event: a type and an amount.
    const TYPES = ['payment.captured', 'payment.refunded'] as const;
    const anEndpoint = fc.record({
      types: fc.option(fc.subarray([...TYPES], { minLength: 1 }), { nil: null }),
      min: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
    });
    const anEvent = fc.record({ type: fc.constantFrom(...TYPES), amount: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }) });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(anEndpoint, { minLength: 1, maxLength: 4 }),
        fc.array(anEvent, { minLength: 1, maxLength: 5 }),
        async (eps, events) => {
          const m = await aMerchant(deps, `Property ${++run}`);
          const ids: string[] = [];
          for (const [i, ep] of eps.entries()) {
            const body = {
              url: `http://127.0.0.1:9/p${i}`,
              ...(ep.types ? { eventTypes: ep.types } : {}),
              ...(ep.min === null ? {} : { filter: `data.amount >= ${ep.min}` }),
            };
            ids.push((await createEndpoint(m.apiKey, body)).json.id);
          }
          const emitted = await db.sql.begin((tx) =>
            emitEvents(
              tx,
              events.map((e, k) => ({
                merchantId: m.id,
                type: e.type,
                paymentId: null,
                dedupeKey: `property-${k}`,
                // an event without an amount: a filter reading it errors, so does not match
                data: e.amount === null ? {} : { amount: e.amount },
                at: new Date(),
              })),
            ),
          );
          for (const [k, e] of events.entries()) {
            const rows = await db.sql<{ endpoint_id: string }[]>`
            select endpoint_id from gw.messages where id = any(${emitted[k]!.messageIds}::text[])`;
            const expected = eps.flatMap((ep, i) =>
              (ep.types === null || ep.types.includes(e.type)) && (ep.min === null || (e.amount !== null && e.amount >= ep.min))
                ? [ids[i]!]
                : [],
            );
            expect(rows.map((r) => r.endpoint_id).sort()).toEqual(expected.sort());
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
