// The endpoint options through the API: `v1a` (Ed25519) signing (`POST`/`GET`/`DELETE
// /v1/endpoints/{id}/ed25519`) and ordered delivery per payment (`ordered` on `POST` and
// `PATCH /v1/endpoints`). Real database, real receivers on 127.0.0.1, the delivery task
// called as the worker would; v1a is verified as a merchant would, with Web Crypto and the
// public key the API answers (the README's snippet), v1 with `standardwebhooks`.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { deliverMessage, deliverMessages } from '../../src/outbound/deliver.task.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach, type Received } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

interface EndpointView {
  id: string;
  ordered: boolean;
  updatedAt: string;
}
interface Ed25519View {
  enabled: boolean;
  publicKey: string | null;
}

type App = ReturnType<typeof testApp>;
const bearer = (apiKey: string): RequestInit => ({ headers: { authorization: `Bearer ${apiKey}` } });
const call = (app: App, method: string, path: string, apiKey: string) => app.request(path, { method, ...bearer(apiKey) });

/** A new merchant with one endpoint at `url`, created through the API (with `extra` in the body). */
async function merchantWithEndpoint(url: string, extra: Record<string, unknown> = {}) {
  const app = testApp(deps);
  const merchant = await aMerchant(deps);
  const res = await app.request('/v1/endpoints', jsonRequest('POST', { url, ...extra }, merchant.apiKey));
  expect(res.status).toBe(201);
  const endpoint = (await res.json()) as EndpointView & { secret: string };
  return { app, merchant, endpoint };
}

let n = 0;
/** Emits one event of `paymentId` (or of none); returns its message to each endpoint, by endpoint id. */
async function emit(merchantId: string, type = 'payment.captured', paymentId: string | null = null): Promise<Map<string, string>> {
  const e = await emitEvent(db.sql, { merchantId, type, paymentId, dedupeKey: `signing-routes-${++n}`, data: { type, n }, at: new Date() });
  const rows = await db.sql<{ id: string; endpoint_id: string }[]>`
    select id, endpoint_id from gw.messages where id = any(${e!.messageIds}::text[])`;
  return new Map(rows.map((r) => [r.endpoint_id, r.id]));
}

/** Emits one event with no payment and delivers its message to `endpointId`; returns the message id. */
async function deliverOne(merchantId: string, endpointId: string): Promise<string> {
  const messageId = (await emit(merchantId)).get(endpointId)!;
  await deliverMessage(deps, { messageId, attempt: 1 });
  return messageId;
}

const header = (r: Received, name: string) => String(r.headers[name]);
const versions = (r: Received) =>
  header(r, 'webhook-signature')
    .split(' ')
    .map((e) => e.split(',')[0]);

/**
 * What a merchant does with the public key (README "Deliveries to merchants"): Web Crypto
 * Ed25519 over `${webhook-id}.${webhook-timestamp}.` + the raw body; true when a `v1a,`
 * entry verifies.
 */
async function v1aVerifies(publicKey: string, id: string, timestamp: string, rawBody: Buffer, signatureHeader: string): Promise<boolean> {
  const key = await crypto.subtle.importKey('raw', Buffer.from(publicKey.slice(5), 'base64'), 'Ed25519', false, ['verify']);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), rawBody]);
  const ok = await Promise.all(
    signatureHeader
      .split(' ')
      .filter((e) => e.startsWith('v1a,'))
      .map((e) => crypto.subtle.verify('Ed25519', key, Buffer.from(e.slice(4), 'base64'), signed)),
  );
  return ok.includes(true);
}
const v1aOf = (publicKey: string, r: Received, body = r.body) =>
  v1aVerifies(publicKey, header(r, 'webhook-id'), header(r, 'webhook-timestamp'), body, header(r, 'webhook-signature'));

async function ed25519State(app: App, endpointId: string, apiKey: string): Promise<Ed25519View> {
  const res = await call(app, 'GET', `/v1/endpoints/${endpointId}/ed25519`, apiKey);
  expect(res.status).toBe(200);
  return (await res.json()) as Ed25519View;
}

describe('v1a signing through /v1/endpoints/{id}/ed25519', () => {
  it('is off on a new endpoint: GET answers enabled false with no key, and deliveries carry v1 only', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(r.url);
    expect(await ed25519State(app, endpoint.id, merchant.apiKey)).toEqual({ enabled: false, publicKey: null });
    await deliverOne(merchant.id, endpoint.id);
    expect(versions(r.received[0]!)).toEqual(['v1']);
  });

  it('turned on, answers the public key (the same on a second POST and on GET), and a delivery carries a v1a signature that verifies with it beside a v1 that standardwebhooks verifies', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(r.url);
    const on = await call(app, 'POST', `/v1/endpoints/${endpoint.id}/ed25519`, merchant.apiKey);
    expect(on.status).toBe(200);
    const { enabled, publicKey } = (await on.json()) as Ed25519View;
    expect(enabled).toBe(true);
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/); // base64 of 32 bytes

    const again = await call(app, 'POST', `/v1/endpoints/${endpoint.id}/ed25519`, merchant.apiKey);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ enabled: true, publicKey }); // idempotent: the key is kept
    const shown = await ed25519State(app, endpoint.id, merchant.apiKey);
    expect(shown).toEqual({ enabled: true, publicKey });

    const messageId = await deliverOne(merchant.id, endpoint.id);
    const got = r.received[0]!;
    expect(header(got, 'webhook-id')).toBe(messageId);
    expect(versions(got)).toEqual(['v1', 'v1a']);
    expect(await v1aOf(shown.publicKey!, got)).toBe(true);
    expect(await v1aOf(shown.publicKey!, got, Buffer.concat([got.body, Buffer.from(' ')]))).toBe(false); // bytes changed: no
    const flat = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
    expect(new Webhook(endpoint.secret).verify(got.body.toString('utf8'), flat)).toMatchObject({ type: 'payment.captured' });
  });

  it('turned off, deliveries carry v1 only and GET shows no key; DELETE again is 204; turned on again, a new key signs and the old one no longer verifies', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(r.url);
    const first = ((await (await call(app, 'POST', `/v1/endpoints/${endpoint.id}/ed25519`, merchant.apiKey)).json()) as Ed25519View)
      .publicKey!;

    const off = await call(app, 'DELETE', `/v1/endpoints/${endpoint.id}/ed25519`, merchant.apiKey);
    expect(off.status).toBe(204);
    expect(await off.text()).toBe('');
    expect(await ed25519State(app, endpoint.id, merchant.apiKey)).toEqual({ enabled: false, publicKey: null });
    await deliverOne(merchant.id, endpoint.id);
    expect(versions(r.received[0]!)).toEqual(['v1']);
    expect((await call(app, 'DELETE', `/v1/endpoints/${endpoint.id}/ed25519`, merchant.apiKey)).status).toBe(204);

    const second = ((await (await call(app, 'POST', `/v1/endpoints/${endpoint.id}/ed25519`, merchant.apiKey)).json()) as Ed25519View)
      .publicKey!;
    expect(second).toMatch(/^whpk_/);
    expect(second).not.toBe(first);
    await deliverOne(merchant.id, endpoint.id);
    const got = r.received[1]!;
    expect(versions(got)).toEqual(['v1', 'v1a']);
    expect(await v1aOf(second, got)).toBe(true);
    expect(await v1aOf(first, got)).toBe(false);
  });

  it('is 404 not_found for another merchant’s endpoint (which it leaves as it is), for a deleted endpoint and for an unknown id; 401 without an API key', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(r.url);
    const other = await aMerchant(deps, 'Other');
    const path = `/v1/endpoints/${endpoint.id}/ed25519`;
    for (const method of ['POST', 'GET', 'DELETE']) {
      const res = await call(app, method, path, other.apiKey);
      expect(res.status, method).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ status: 404, code: 'not_found' });
      const unknown = await call(app, method, '/v1/endpoints/ep_nope/ed25519', merchant.apiKey);
      expect(unknown.status, method).toBe(404);
      const anonymous = await app.request(path, { method });
      expect(anonymous.status, method).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: 'unauthorized' });
    }
    expect(await ed25519State(app, endpoint.id, merchant.apiKey)).toEqual({ enabled: false, publicKey: null });

    // The owner's key is not dropped by another merchant's DELETE.
    const { publicKey } = (await (await call(app, 'POST', path, merchant.apiKey)).json()) as Ed25519View;
    expect((await call(app, 'DELETE', path, other.apiKey)).status).toBe(404);
    expect(await ed25519State(app, endpoint.id, merchant.apiKey)).toEqual({ enabled: true, publicKey });

    expect((await call(app, 'DELETE', `/v1/endpoints/${endpoint.id}`, merchant.apiKey)).status).toBe(204);
    for (const method of ['POST', 'GET', 'DELETE']) {
      const res = await call(app, method, path, merchant.apiKey);
      expect(res.status, method).toBe(404);
      expect(await res.json()).toMatchObject({ code: 'not_found' });
    }
  });
});

describe('ordered on /v1/endpoints', () => {
  it('is false unless asked for, returned as created, listed and fetched, and toggled by PATCH', async () => {
    const r = await receiver();
    const { app, merchant, endpoint: plain } = await merchantWithEndpoint(r.url);
    expect(plain.ordered).toBe(false);
    const created = await app.request('/v1/endpoints', jsonRequest('POST', { url: r.url, ordered: true }, merchant.apiKey));
    expect(created.status).toBe(201);
    const orderedEndpoint = (await created.json()) as EndpointView;
    expect(orderedEndpoint.ordered).toBe(true);

    const fetched = (await (await call(app, 'GET', `/v1/endpoints/${orderedEndpoint.id}`, merchant.apiKey)).json()) as EndpointView;
    expect(fetched.ordered).toBe(true);
    const list = (await (await call(app, 'GET', '/v1/endpoints', merchant.apiKey)).json()) as { data: EndpointView[] };
    expect(Object.fromEntries(list.data.map((e) => [e.id, e.ordered]))).toEqual({ [plain.id]: false, [orderedEndpoint.id]: true });

    for (const value of [false, true, false]) {
      const res = await app.request(`/v1/endpoints/${orderedEndpoint.id}`, jsonRequest('PATCH', { ordered: value }, merchant.apiKey));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: orderedEndpoint.id, ordered: value });
    }
    // A PATCH of another field leaves it as it is.
    await app.request(`/v1/endpoints/${plain.id}`, jsonRequest('PATCH', { ordered: true }, merchant.apiKey));
    const described = await app.request(`/v1/endpoints/${plain.id}`, jsonRequest('PATCH', { description: 'orders' }, merchant.apiKey));
    expect(await described.json()).toMatchObject({ description: 'orders', ordered: true });
    const [row] = await db.sql<{ ordered: boolean }[]>`select ordered from gw.endpoints where id = ${orderedEndpoint.id}`;
    expect(row!.ordered).toBe(false);
  });

  it('answers 400 invalid_request for an ordered that is not a boolean, on POST and PATCH, and changes nothing', async () => {
    const r = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(r.url);
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/endpoints', { url: r.url, ordered: 'yes' }],
      ['POST', '/v1/endpoints', { url: r.url, ordered: null }],
      ['PATCH', `/v1/endpoints/${endpoint.id}`, { ordered: 'true' }],
      ['PATCH', `/v1/endpoints/${endpoint.id}`, { ordered: null }],
      ['PATCH', `/v1/endpoints/${endpoint.id}`, { ordered: 1 }],
    ];
    for (const [method, path, body] of cases) {
      const res = await app.request(path, jsonRequest(method, body, merchant.apiKey));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await res.json()) as { code: string; errors: { path: (string | number)[] }[] };
      expect(problem.code).toBe('invalid_request');
      expect(problem.errors.map((e) => e.path)).toContainEqual(['ordered']);
    }
    const [count] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.endpoints where merchant_id = ${merchant.id}`;
    expect(count!.n).toBe(1);
    expect(((await (await call(app, 'GET', `/v1/endpoints/${endpoint.id}`, merchant.apiKey)).json()) as EndpointView).ordered).toBe(false);
  });

  it('set through the API, holds a payment’s second event until the first is delivered, and PATCH ordered false releases a held one', async () => {
    const ordered = await receiver();
    const { app, merchant, endpoint } = await merchantWithEndpoint(ordered.url, { ordered: true });
    const sourceId = `src_signing_routes${++n}`;
    const paymentId = `pay_signing_routes${n}`;
    await db.sql`insert into gw.sources (id, merchant_id, provider) values (${sourceId}, ${merchant.id}, 'stripe')`;
    await db.sql`
      insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, currency)
      values (${paymentId}, ${merchant.id}, ${sourceId}, ${`pi_routes_${n}`}, 'authorized', 1000, 'USD')`;
    const types = () => ordered.received.map((x) => (JSON.parse(x.body.toString('utf8')) as { type: string }).type);
    const status = async (id: string) =>
      (await db.sql<{ status: string; attempts: number }[]>`select status, attempts from gw.messages where id = ${id}`)[0];

    const first = (await emit(merchant.id, 'payment.authorized', paymentId)).get(endpoint.id)!;
    const second = (await emit(merchant.id, 'payment.captured', paymentId)).get(endpoint.id)!;
    await deliverMessages(deps, [{ messageId: second, attempt: 1 }]); // its job ran first
    expect(ordered.received).toHaveLength(0);
    expect(await status(second)).toMatchObject({ status: 'pending', attempts: 0 });
    await deliverMessage(deps, { messageId: first, attempt: 1 });
    await deliverMessage(deps, { messageId: second, attempt: 1 });
    expect(types()).toEqual(['payment.authorized', 'payment.captured']);

    const third = (await emit(merchant.id, 'payment.refunded', paymentId)).get(endpoint.id)!;
    const fourth = (await emit(merchant.id, 'payment.partially_refunded', paymentId)).get(endpoint.id)!;
    await deliverMessage(deps, { messageId: fourth, attempt: 1 });
    expect(await status(fourth)).toMatchObject({ status: 'pending', attempts: 0 }); // held behind the third
    const off = await app.request(`/v1/endpoints/${endpoint.id}`, jsonRequest('PATCH', { ordered: false }, merchant.apiKey));
    expect(await off.json()).toMatchObject({ ordered: false });
    await deliverMessage(deps, { messageId: fourth, attempt: 1 });
    expect(types()).toEqual(['payment.authorized', 'payment.captured', 'payment.partially_refunded']);
    expect(await status(third)).toMatchObject({ status: 'pending', attempts: 0 });
  });
});
