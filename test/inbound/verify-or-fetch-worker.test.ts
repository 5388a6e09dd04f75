// Verify or fetch through the runner a deployment starts: the processing task hands a `trust: fetch` event to a
// `fetch_inbound_objects` job, which reads the object from Stripe (the simulator, on msw) and applies it.
import type { Runner } from 'graphile-worker';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { startRunner } from '../../src/app/worker.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { stripeSimulator } from '../../src/dev/simulators/index.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { readPspObjects } from '../../src/payments-api/psp-objects.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';

const SECRET = 'whsec_verify_or_fetch_worker_0123456789';
const SK = 'sk_test_verify_or_fetch_worker_0123';
const STRIPE_BASE = 'https://stripe.simulator.test';

let db: TestDatabase;
let deps: Deps;
let runner: Runner;
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = { ...(await testDeps(db)), readPspObjects };
  server.listen({ onUnhandledRequest: 'error' });
  runner = await startRunner(deps, { connectionString: db.url, concurrency: 2, pollIntervalMs: 100 });
});
afterAll(async () => {
  await runner?.stop();
  server.close();
  await db?.drop();
});

describe('the runner on a trust: fetch source', () => {
  it("applies Stripe's PaymentIntent, not the payload, through the fetch_inbound_objects job", async () => {
    const app = testApp(deps);
    const m = await aMerchant(deps, 'Runner shop');
    const res = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE, trust: 'fetch' }, m.apiKey),
    );
    expect(res.status).toBe(201);
    const sourceId = ((await res.json()) as { id: string }).id;
    const sim = stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: SK });
    server.use(...sim.handlers);
    sim.paymentIntents.set('pi_runner', {
      id: 'pi_runner',
      object: 'payment_intent',
      amount: 2500,
      amount_capturable: 2500,
      amount_received: 0,
      currency: 'usd',
      capture_method: 'manual',
      status: 'requires_capture',
      metadata: {},
      last_payment_error: null,
      latest_charge: 'ch_runner',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      amount_refunded: 0,
    });

    // the payload claims a capture; Stripe holds an authorization
    const body = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_runner', amount: 2500 }));
    const ack = await app.request(`/inbound/${sourceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, SECRET, new Date()) },
      body,
    });
    expect(ack.status).toBe(200);

    const payment = await eventually(async () => {
      const [row] = await db.sql<{ status: string; captured_amount: string }[]>`
        select status, captured_amount::text from gw.payments where merchant_id = ${m.id}`;
      return row;
    });
    expect(payment).toEqual({ status: 'authorized', captured_amount: '0' });
    expect(sim.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['GET /v1/payment_intents/pi_runner 200']);
    const [event] = await db.sql<{ status: string }[]>`select status from gw.inbound_events where source_id = ${sourceId}`;
    expect(event!.status).toBe('processed');
  });
});
