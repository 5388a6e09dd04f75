// The event catalogue (src/app/event-catalogue.ts): GET /v1/event-types lists every type the code emits with the JSON
// Schema of its data and an example it accepts; the events real processing, delivery and the test route emit are
// valid against those schemas (ajv); the OpenAPI document lists each type under `webhooks`.
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { catalogueValidators, expectEventsMatchCatalogue } from '../event-catalogue.js';
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

/** The payment event types the state machine's table names. */
async function stateMachineEventTypes(): Promise<string[]> {
  const source = await readFile(new URL('../../src/core/payments/state-machine.ts', import.meta.url), 'utf8');
  return [...new Set(source.match(/'payment\.[a-z_]+'/g)!.map((s) => s.slice(1, -1)))].sort();
}

/**
 * Every type the code emits: the state machine's payment types, and each `type: 'x.y'` literal in a source file that
 * calls the outbox (emitEvent, emitEvents, emitEventToEndpoint), so a new emit site fails this test until catalogued.
 */
async function emittedEventTypes(): Promise<string[]> {
  const root = new URL('../../src/', import.meta.url);
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const types = new Set(await stateMachineEventTypes());
  for (const f of files) {
    const source = await readFile(new URL(f, root), 'utf8');
    if (!/\bemitEvents?\(|\bemitEventToEndpoint\(/.test(source)) continue;
    for (const m of source.matchAll(/\btype: '([a-z_]+(?:\.[a-z_]+)+)'/g)) types.add(m[1]!);
  }
  return [...types].sort();
}

describe('GET /v1/event-types', () => {
  it('lists every event type the code emits, each with a JSON Schema of its data and an example that schema accepts', async () => {
    const m = await aMerchant(deps);
    const res = await testApp(deps).request('/v1/event-types', { headers: { authorization: `Bearer ${m.apiKey}` } });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: { type: string; description: string; schema: Record<string, unknown>; example: unknown }[];
    };
    const emitted = await emittedEventTypes();
    expect(emitted).toEqual(
      expect.arrayContaining([
        'endpoint.disabled',
        'webhook.test',
        'review.opened',
        'review.closed',
        'reconciliation.mismatch',
        'reconciliation.completed',
        'ledger.imbalance',
      ]),
    );
    expect(data.map((d) => d.type).sort()).toEqual(emitted);
    const validators = catalogueValidators();
    for (const d of data) {
      expect(d.description.length, d.type).toBeGreaterThan(10);
      expect(d.schema.type, d.type).toBe('object');
      expect(validators.get(d.type)!(d.example), d.type).toBeUndefined();
    }
    const captured = data.find((d) => d.type === 'payment.captured')!;
    expect(captured.schema.required).toEqual(expect.arrayContaining(['id', 'amount', 'currency', 'status', 'operations']));
  });

  it('is behind the merchant API key', async () => {
    expect((await testApp(deps).request('/v1/event-types')).status).toBe(401);
  });
});

describe('the schemas against emitted events', () => {
  it('accept every payload that processing Stripe events, a test send and a disabling emit', async () => {
    const m = await aMerchant(deps, 'Catalogue');
    const app = testApp(deps);
    const src = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: 'whsec_catalogue0123456789abcdefXYZ' }, m.apiKey),
    );
    const sourceId = ((await src.json()) as { id: string }).id;
    const gone = await receiver(() => 410);
    const ok = await receiver();
    const created = await app.request('/v1/endpoints', jsonRequest('POST', { url: gone.url }, m.apiKey));
    const goneId = ((await created.json()) as { id: string }).id;
    await app.request('/v1/endpoints', jsonRequest('POST', { url: ok.url }, m.apiKey));

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
    const a = { paymentIntent: 'pi_catalogue_a', amount: 12500, currency: 'eur' };
    await process(buildStripeEvent('payment_intent.amount_capturable_updated', a));
    await process(buildStripeEvent('payment_intent.succeeded', a));
    await process(buildStripeEvent('charge.refunded', { ...a, amountRefunded: 2500 }));
    await process(buildStripeEvent('charge.refunded', { ...a, amountRefunded: 12500 }));
    await process(buildStripeEvent('charge.dispute.created', a));
    const b = { paymentIntent: 'pi_catalogue_b', amount: 999, currency: 'jpy' };
    await process(buildStripeEvent('payment_intent.payment_failed', b));
    const c = { paymentIntent: 'pi_catalogue_c', amount: 5000, currency: 'usd' };
    await process(buildStripeEvent('payment_intent.amount_capturable_updated', c));
    await process(buildStripeEvent('payment_intent.canceled', c));

    const test = await app.request(`/v1/endpoints/${goneId}/test`, { method: 'POST', headers: { authorization: `Bearer ${m.apiKey}` } });
    const { messageId } = (await test.json()) as { messageId: string };
    await deliverMessage(deps, { messageId, attempt: 1 }); // 410: disabled, endpoint.disabled emitted

    const counts = await expectEventsMatchCatalogue(db.sql);
    expect(Object.keys(counts).sort()).toEqual(
      expect.arrayContaining([
        'endpoint.disabled',
        'payment.authorized',
        'payment.captured',
        'payment.disputed',
        'payment.failed',
        'payment.partially_refunded',
        'payment.refunded',
        'payment.voided',
        'webhook.test',
      ]),
    );
  });

  it('refuse a payload whose data does not match (the check is not vacuous)', () => {
    const validators = catalogueValidators();
    expect(validators.get('payment.captured')!({ id: 'pay_1', amount: '12.50' })).toMatch(/amount|required/);
    expect(validators.get('endpoint.disabled')!({ endpointId: 'ep_1', url: 'x', reason: 'r', disabledAt: 'yesterday' })).toMatch(
      /date-time|format/,
    );
    expect(validators.get('review.opened')!({ id: 'rev_1', status: 'pending' })).toMatch(/status|required/);
    expect(validators.get('ledger.imbalance')!({ id: 'lck_1', problems: [{ problem: 'balance_drift', kept: '7' }] })).toBeDefined();
    expect(validators.get('reconciliation.mismatch')!({ reconciliationId: 'rcn_1', result: 'sortOf' })).toMatch(/result|required/);
  });
});

describe('the OpenAPI document', () => {
  it('describes every event type under webhooks, as a POST whose body is the Standard Webhooks envelope', async () => {
    const res = await testApp(deps).request('/openapi.json');
    const doc = (await res.json()) as {
      webhooks: Record<
        string,
        { post: { requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } } } }
      >;
    };
    expect(Object.keys(doc.webhooks).sort()).toEqual(await emittedEventTypes());
    const body = doc.webhooks['payment.captured']!.post.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties).sort()).toEqual(['data', 'timestamp', 'type']);
  });
});
