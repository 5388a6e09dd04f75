// A Switchyard that reaches the Stripe simulator over HTTP, as one in another process must (msw
// answers only fetch calls of its own process): the gateway served on 127.0.0.1 with its real
// guarded PSP fetch, no msw server listening, the source's apiBaseUrl at serveSimulator's front.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedPspFetch } from '../../src/app/node/psp-fetch.js';
import { serveSimulator, stripeSimulator, type ServedSimulator, type StripeSimulator } from '../../src/dev/simulators/index.js';
import { createGuardedAgent } from '../../src/outbound/ssrf.js';
import { aMerchant, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

const SECRET = 'whsec_served_simulator_0123456789';
const SK = 'sk_test_served_simulator_0123456789';

let db: TestDatabase;
let gateway: ServerType;
let base: string;
let front: ServedSimulator;
let sim: StripeSimulator | undefined;
const agent = createGuardedAgent({ allowPrivate: true, connectTimeoutMs: 2_000 });

beforeAll(async () => {
  db = await createTestDatabase();
  const deps = { ...(await testDeps(db)), pspFetch: guardedPspFetch(agent) };
  const app = testApp(deps);
  gateway = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  front = await serveSimulator(() => sim!);
});

afterAll(async () => {
  await front?.close();
  await new Promise((resolve) => gateway?.close(resolve));
  await agent.close();
  await db?.drop();
});

const json = (method: string, body: unknown, apiKey: string, extra: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, ...extra },
  body: JSON.stringify(body),
});

describe('serveSimulator', () => {
  it('answers 503 before the simulator is set, then 404 naming a path no handler matches', async () => {
    const early = await fetch(`${front.url}/v1/payment_intents`, { method: 'POST' });
    expect(early.status).toBe(503);
    sim = stripeSimulator();
    const unknown = await fetch(`${front.url}/v1/customers`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('no simulator handler for GET /v1/customers\n');
  });

  it("lets a gateway create a payment over HTTP and receive the simulator's signed webhook", async () => {
    const merchant = await aMerchant(await testDeps(db));
    const created = await fetch(
      `${base}/v1/sources`,
      json('POST', { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: front.url }, merchant.apiKey),
    );
    expect(created.status).toBe(201);
    const source = (await created.json()) as { id: string; inboundUrl: string };
    sim = stripeSimulator({ apiKey: SK, webhooks: { url: `${base}${source.inboundUrl}`, secret: SECRET } });

    const res = await fetch(
      `${base}/v1/payments`,
      json(
        'POST',
        { amount: 2000, currency: 'usd', sourceId: source.id, merchantReference: 'order-served', paymentMethod: 'pm_card_visa' },
        merchant.apiKey,
        { 'idempotency-key': 'served-1' },
      ),
    );
    const payment = (await res.json()) as { status: string; pspReference: string };
    expect(res.status, JSON.stringify(payment)).toBe(201);
    expect(payment.status).toBe('captured');
    expect(sim.calls).toEqual([expect.objectContaining({ method: 'POST', path: '/v1/payment_intents', replayed: false, status: 200 })]);
    expect(sim.paymentIntents.get(payment.pspReference)?.metadata).toMatchObject({ merchant_reference: 'order-served' });

    await sim.webhooks.settled();
    expect(sim.webhooks.responses.map((r) => r.status)).toEqual([200]);
    const stored = await db.sql<{ event_type: string }[]>`select event_type from gw.inbound_events where source_id = ${source.id}`;
    expect(stored.map((r) => r.event_type)).toEqual(['payment_intent.succeeded']);
  });
});
