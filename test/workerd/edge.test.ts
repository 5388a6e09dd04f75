// The inbound path on Cloudflare Workers, for real: src/app/edge.ts runs in workerd (wrangler's
// dev server) with its Hyperdrive binding on this file's database; Stripe's own signer
// signs the request; the Node worker processes what the edge stored and delivers it to a
// real receiver, checked with the standardwebhooks package.
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { serve, type ServerType } from '@hono/node-server';
import type { Runner } from 'graphile-worker';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureText } from '../node-helpers.js';
import type { Deps } from '../../src/core/deps.js';
import { startRunner } from '../../src/app/worker.js';
import { createSecretBox, generateMasterKey } from '../../src/core/secrets.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { startReceiver, type Receiver } from '../receiver.js';
import { startEdgeWorker, type EdgeWorker } from './edge-worker.js';
import { eventually } from '../eventually.js';
import { processJobsFor } from '../process-jobs.js';

const fixture = (name: string) => JSON.parse(fixtureText(`stripe/${name}.json`)) as Record<string, unknown>;

const STRIPE_SECRET = 'whsec_edge_test_secret_0123456789';
const stripe = new Stripe('sk_test_unused');

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let edge: EdgeWorker;
let receiver: Receiver;
let runner: Runner | undefined;
let sourceId: string;
let apiKey: string;
let endpointSecret: string;

beforeAll(async () => {
  db = await createTestDatabase();
  // The edge decrypts the source's signing secret that the Node app encrypted: one master key for both.
  const masterKey = generateMasterKey();
  deps = { ...(await testDeps(db)), secretBox: await createSecretBox(masterKey) };
  app = testApp(deps);
  receiver = await startReceiver();

  const merchant = await aMerchant(deps);
  apiKey = merchant.apiKey;
  const source = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: STRIPE_SECRET }, apiKey));
  expect(source.status).toBe(201);
  sourceId = ((await source.json()) as { id: string }).id;
  const endpoint = await app.request('/v1/endpoints', jsonRequest('POST', { url: receiver.url, eventTypes: ['payment.captured'] }, apiKey));
  expect(endpoint.status).toBe(201);
  endpointSecret = ((await endpoint.json()) as { secret: string }).secret;

  edge = await startEdgeWorker({
    databaseUrl: db.url,
    secrets: { SWITCHYARD_MASTER_KEY: masterKey },
    vars: { LOG_LEVEL: 'warn' },
  });
}, 60_000);

afterAll(async () => {
  await runner?.stop();
  await edge?.stop();
  await receiver?.close();
  await db?.drop();
}, 60_000);

/** A new payment_intent.succeeded for `paymentIntent`, serialised once, and its Stripe-Signature header. */
function signedSucceeded(paymentIntent: string, amount = 1099): { eventId: string; payload: string; signature: string } {
  const event = buildStripeEvent('payment_intent.succeeded', {
    paymentIntent,
    amount,
    currency: 'usd',
    base: { paymentIntent: fixture('payment_intent'), charge: fixture('charge') },
  });
  const payload = JSON.stringify(event);
  return { eventId: event.id as string, payload, signature: stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }) };
}

/** POSTs `payload` with `signature` to `base`'s inbound URL for the Stripe source. */
function postInbound(base: string, payload: string, signature: string): Promise<Response> {
  return fetch(`${base}/inbound/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    body: payload,
  });
}

async function inboundRows(eventId: string) {
  return db.sql<{ id: string; raw_body: Uint8Array; status: string; event_type: string | null; payment_id: string | null }[]>`
    select i.id, b.raw_body, i.status, i.event_type, i.payment_id
      from gw.inbound_events i
      join gw.inbound_event_bodies b on b.inbound_event_id = i.id
     where i.source_id = ${sourceId} and i.event_id = ${eventId}`;
}

describe('the inbound route on Cloudflare Workers (workerd, Hyperdrive binding to PostgreSQL)', () => {
  const captured = signedSucceeded('pi_edge_1');

  it('answers /healthz, and /readyz after a round trip to the database through the Hyperdrive binding', async () => {
    const health = await fetch(`${edge.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect(health.headers.get('x-request-id')).toMatch(/^req_/);
    const ready = await fetch(`${edge.url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(ready.status).toBe(200);
  });

  it('acks a Stripe-signed event with 200 only after storing its exact bytes and queueing its processing', async () => {
    const ack = await postInbound(edge.url, captured.payload, captured.signature);
    expect(await ack.json()).toEqual({ received: true, duplicate: false });
    expect(ack.status).toBe(200);

    const [row] = await inboundRows(captured.eventId);
    expect(row).toMatchObject({ status: 'received', event_type: 'payment_intent.succeeded' });
    expect(Buffer.from(row!.raw_body).toString('utf8')).toBe(captured.payload);
    expect(await processJobsFor(db.sql, row!.id)).toEqual([{ key: null, ids: [row!.id] }]);
  });

  it('acks the same event again as a duplicate without storing it twice', async () => {
    const again = await postInbound(edge.url, captured.payload, captured.signature);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    expect(await inboundRows(captured.eventId)).toHaveLength(1);
  });

  it('refuses a tampered body with 401 signature_invalid and stores nothing', async () => {
    const forged = signedSucceeded('pi_edge_forged', 1099);
    const tampered = forged.payload.replace('"amount":1099', '"amount":109900');
    expect(tampered).not.toBe(forged.payload);
    const res = await postInbound(edge.url, tampered, forged.signature);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 401, code: 'signature_invalid' });
    expect(await inboundRows(forged.eventId)).toHaveLength(0);
  });

  it('answers 404 source_not_found for a source that does not exist', async () => {
    const res = await fetch(`${edge.url}/inbound/src_doesnotexist`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'source_not_found' });
  });

  it('hands the stored event to the Node worker, which applies it and delivers a signed payment.captured to the merchant', async () => {
    runner = await startRunner(deps, { connectionString: db.url, concurrency: 2, pollIntervalMs: 200 });

    const [delivery] = await receiver.waitFor(1);
    const headers = Object.fromEntries(Object.entries(delivery!.headers).map(([k, v]) => [k, String(v)]));
    const verified = new Webhook(endpointSecret).verify(delivery!.body.toString('utf8'), headers) as {
      type: string;
      data: Record<string, unknown>;
    };
    expect(verified.type).toBe('payment.captured');
    expect(verified.data).toMatchObject({ pspReference: 'pi_edge_1', status: 'captured', amount: 1099, currency: 'USD' });

    const row = await eventually(async () => {
      const [r] = await inboundRows(captured.eventId);
      return r?.status === 'processed' ? r : undefined;
    });
    expect(row.payment_id).toMatch(/^pay_/);

    await runner.stop();
    runner = undefined;
  });

  it('acks 50 sequential signed posts on workerd and on the Node app over the same database, and prints the median latency of each', async () => {
    const node = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const nodeUrl = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
      const median = async (base: string, label: string): Promise<number> => {
        const times: number[] = [];
        for (let i = 0; i < 55; i++) {
          const e = signedSucceeded(`pi_${label}_${i}`);
          const t0 = performance.now();
          const res = await postInbound(base, e.payload, e.signature);
          await res.arrayBuffer();
          const ms = performance.now() - t0;
          expect(res.status).toBe(200);
          if (i >= 5) times.push(ms); // the first five warm up connections and the isolate
        }
        times.sort((a, b) => a - b);
        return (times[24]! + times[25]!) / 2;
      };
      const edgeMs = await median(edge.url, 'edge_bench');
      const nodeMs = await median(nodeUrl, 'node_bench');
      console.info(
        `inbound ack latency, median of 50 sequential Stripe-signed posts: workerd ${edgeMs.toFixed(2)} ms, ` +
          `Node (@hono/node-server) ${nodeMs.toFixed(2)} ms`,
      );
      expect(edgeMs).toBeGreaterThan(0);
      expect(nodeMs).toBeGreaterThan(0);
    } finally {
      await new Promise((resolve) => node.close(resolve));
    }
  });
});
