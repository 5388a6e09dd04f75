// Ordered delivery per payment (an endpoint's `ordered` flag, sql/0012_endpoint_options.sql):
// an event of a payment is not sent to the endpoint before the previous event of that
// payment to it was delivered or failed for good; other endpoints are not held. Real
// database, real receivers on 127.0.0.1, the delivery task called as the worker would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { deliverMessage, deliverMessages } from '../../src/outbound/deliver.task.js';
import { setEndpointOrdered } from '../../src/outbound/endpoints/endpoint-store.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

let n = 0;
/** A merchant with one endpoint at each URL, a source and a payment to emit events of. */
async function setUp(urls: string[]) {
  const merchant = await aMerchant(deps);
  const endpointIds: string[] = [];
  for (const url of urls) {
    const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url }, merchant.apiKey));
    expect(res.status).toBe(201);
    endpointIds.push(((await res.json()) as { id: string }).id);
  }
  const sourceId = `src_ordered${++n}`;
  const paymentId = `pay_ordered${n}`;
  await db.sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchant.id}, 'stripe')`;
  await db.sql`
    insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, currency)
    values (${paymentId}, ${merchant.id}, ${sourceId}, ${`pi_${n}`}, 'authorized', 1000, 'USD')`;
  return { merchantId: merchant.id, endpointIds, paymentId };
}

/** Emits one event of the payment (or of none); returns its messages by endpoint. */
async function emit(merchantId: string, paymentId: string | null, type: string): Promise<Map<string, string>> {
  const e = await emitEvent(db.sql, { merchantId, type, paymentId, dedupeKey: `ordered-${++n}`, data: { type }, at: new Date() });
  const rows = await db.sql<{ id: string; endpoint_id: string }[]>`
    select id, endpoint_id from gw.messages where id = any(${e!.messageIds}::text[])`;
  return new Map(rows.map((r) => [r.endpoint_id, r.id]));
}

async function message(id: string) {
  const [row] = await db.sql<{ status: string; attempts: number; next_attempt_at: Date | null }[]>`
    select status, attempts, next_attempt_at from gw.messages where id = ${id}`;
  return row!;
}

const types = (r: { received: { body: Buffer }[] }) =>
  r.received.map((x) => (JSON.parse(x.body.toString('utf8')) as { type: string }).type);

describe('an ordered endpoint', () => {
  it('holds a payment’s second event, unsent and uncounted, until the first is delivered; an unordered endpoint is not held', async () => {
    const ordered = await receiver();
    const plain = await receiver();
    const { merchantId, endpointIds, paymentId } = await setUp([ordered.url, plain.url]);
    const [orderedId, plainId] = endpointIds as [string, string];
    expect(await setEndpointOrdered(db.sql, orderedId, true)).toBe(true);
    const first = await emit(merchantId, paymentId, 'payment.authorized');
    const second = await emit(merchantId, paymentId, 'payment.captured');

    // The second event's attempts run first (say its job was taken first).
    await deliverMessages(deps, [{ messageId: second.get(orderedId)!, attempt: 1 }]);
    await deliverMessage(deps, { messageId: second.get(plainId)!, attempt: 1 });
    expect(ordered.received).toHaveLength(0);
    expect(types(plain)).toEqual(['payment.captured']);
    const held = await message(second.get(orderedId)!);
    expect(held).toMatchObject({ status: 'pending', attempts: 0 });
    expect(held.next_attempt_at!.getTime()).toBeGreaterThan(Date.now());

    await deliverMessage(deps, { messageId: first.get(orderedId)!, attempt: 1 });
    await deliverMessage(deps, { messageId: second.get(orderedId)!, attempt: 1 });
    expect(types(ordered)).toEqual(['payment.authorized', 'payment.captured']);
    expect(await message(second.get(orderedId)!)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('lets the next event go once the previous one has failed for good, and does not hold an event without a payment', async () => {
    const failing = await receiver(() => 500);
    const { merchantId, endpointIds, paymentId } = await setUp([failing.url]);
    const [endpointId] = endpointIds as [string];
    await setEndpointOrdered(db.sql, endpointId, true);
    const first = (await emit(merchantId, paymentId, 'payment.authorized')).get(endpointId)!;
    const second = (await emit(merchantId, paymentId, 'payment.captured')).get(endpointId)!;
    const unrelated = (await emit(merchantId, null, 'payment.note')).get(endpointId)!;

    await deliverMessage(deps, { messageId: unrelated, attempt: 1 });
    expect(failing.received).toHaveLength(1); // no payment: not held

    for (const attempt of [1, 2, 3, 4]) await deliverMessage(deps, { messageId: first, attempt }); // testDeps: 4 attempts
    expect(await message(first)).toMatchObject({ status: 'failed', attempts: 4 });
    await deliverMessage(deps, { messageId: second, attempt: 1 });
    expect(await message(second)).toMatchObject({ attempts: 1 });
    expect(failing.received).toHaveLength(6);
  });

  it('releases the held messages when ordering is turned off', async () => {
    const r = await receiver();
    const { merchantId, endpointIds, paymentId } = await setUp([r.url]);
    const [endpointId] = endpointIds as [string];
    await setEndpointOrdered(db.sql, endpointId, true);
    await emit(merchantId, paymentId, 'payment.authorized');
    const second = (await emit(merchantId, paymentId, 'payment.captured')).get(endpointId)!;
    await deliverMessage(deps, { messageId: second, attempt: 1 });
    expect(r.received).toHaveLength(0);

    await setEndpointOrdered(db.sql, endpointId, false);
    await deliverMessage(deps, { messageId: second, attempt: 1 });
    expect(types(r)).toEqual(['payment.captured']);
  });
});
