// A real Stripe event flows from PSP to ledger to merchant endpoint: the gateway served
// over real HTTP, a real graphile-worker runner, Stripe's own signer for the inbound
// request, a real receiver, and the standardwebhooks package verifying the delivery.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Runner } from 'graphile-worker';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureText } from '../node-helpers.js';
import type { Deps } from '../../src/core/deps.js';
import { startRunner } from '../../src/app/worker.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { TEST_ADMIN_TOKEN, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { startReceiver, type Receiver } from '../receiver.js';
import { eventually } from '../eventually.js';

const fixture = (name: string) => JSON.parse(fixtureText(`stripe/${name}.json`)) as Record<string, unknown>;

let db: TestDatabase;
let deps: Deps;
let server: ServerType;
let base: string;
let runner: Runner;
let receiver: Receiver;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  const app = testApp(deps);
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  runner = await startRunner(deps, { connectionString: db.url, concurrency: 2, pollIntervalMs: 200 });
  receiver = await startReceiver();
});

afterAll(async () => {
  await runner?.stop();
  await new Promise((resolve) => server?.close(resolve));
  await receiver?.close();
  // Every event the end-to-end run emitted is valid against the published event catalogue.
  if (db) await expectEventsMatchCatalogue(db.sql);
  await db?.drop();
});

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

describe('a Stripe payment_intent.succeeded, end to end', () => {
  it('is acked, applied to the payment and the ledger, and delivered signed to the merchant endpoint', async () => {
    const merchant = await call('POST', '/admin/merchants', TEST_ADMIN_TOKEN, { name: 'Acme' });
    expect(merchant.status).toBe(201);
    const apiKey: string = merchant.json.apiKey;

    const stripeSecret = 'whsec_e2e_test_secret_0123456789';
    const source = await call('POST', '/v1/sources', apiKey, { provider: 'stripe', secret: stripeSecret });
    expect(source.status).toBe(201);
    expect(source.json.inboundUrl).toBe(`/inbound/${source.json.id}`);

    const endpoint = await call('POST', '/v1/endpoints', apiKey, { url: receiver.url, eventTypes: ['payment.captured'] });
    expect(endpoint.status).toBe(201);
    expect(endpoint.json.secret).toMatch(/^whsec_/);

    const event = buildStripeEvent('payment_intent.succeeded', {
      paymentIntent: 'pi_e2e_1',
      amount: 1099,
      currency: 'usd',
      base: { paymentIntent: fixture('payment_intent'), charge: fixture('charge') },
    });
    const payload = JSON.stringify(event);
    const stripe = new Stripe('sk_test_unused');
    const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: stripeSecret });
    const ack = await fetch(`${base}${source.json.inboundUrl}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body: payload,
    });
    expect(ack.status).toBe(200);
    expect(await ack.json()).toEqual({ received: true, duplicate: false });

    const [delivery] = await receiver.waitFor(1);
    const headers = Object.fromEntries(Object.entries(delivery!.headers).map(([k, v]) => [k, String(v)]));
    const verified = new Webhook(endpoint.json.secret).verify(delivery!.body.toString('utf8'), headers) as any;
    expect(verified.type).toBe('payment.captured');
    expect(verified.data).toMatchObject({
      pspReference: 'pi_e2e_1',
      status: 'captured',
      amount: 1099,
      capturedAmount: 1099,
      currency: 'USD',
    });
    expect(headers['webhook-id']).toMatch(/^msg_/);

    const payments = await call('GET', '/v1/payments?pspReference=pi_e2e_1', apiKey);
    expect(payments.json.data).toHaveLength(1);
    const paymentId: string = payments.json.data[0].id;

    const ledger = await call('GET', `/v1/payments/${paymentId}/ledger`, apiKey);
    expect(ledger.json.data).toEqual([
      expect.objectContaining({
        kind: 'capture',
        entries: [
          { account: 'psp_receivable', direction: 'debit', amount: 1099, currency: 'USD' },
          { account: 'merchant_payable', direction: 'credit', amount: 1099, currency: 'USD' },
        ],
      }),
    ]);
    const check = await call('GET', '/v1/ledger/check', apiKey);
    expect(check.json).toMatchObject({ balanced: true, currencies: [{ currency: 'USD', debits: 1099, credits: 1099 }] });

    const events = await call('GET', '/v1/events?type=payment.captured', apiKey);
    const eventId: string = events.json.data[0].id;
    const attempts = await eventually(async () => {
      const r = await call('GET', `/v1/events/${eventId}/attempts`, apiKey);
      return r.json.data.length > 0 ? r.json.data : undefined;
    });
    expect(attempts[0]).toMatchObject({ endpointId: endpoint.json.id, status: 'succeeded', responseStatus: 200 });

    const inbound = await call('GET', '/v1/inbound-events', apiKey);
    expect(inbound.json.data[0]).toMatchObject({ eventId: event.id, status: 'processed', paymentId });
  });
});
