// SSRF guard of the payments API: a source's apiBaseUrl is where Switchyard sends the
// merchant's PSP API key, so it follows the endpoint URL rules. Checked when the source is
// created (400 url_not_allowed) and again at connect time by the Node runtime's PSP fetch
// (undici's fetch through the guarded Agent), which catches rows stored before the check
// and DNS rebinding: the call is never sent and the command answers 422 url_not_allowed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedPspFetch } from '../../src/app/node/psp-fetch.js';
import type { Deps } from '../../src/core/deps.js';
import { checkEndpointUrl, createGuardedAgent } from '../../src/outbound/ssrf.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { apps, command, type Shop } from './harness.js';

const SECRET = 'whsec_psp_ssrf_0123456789abcdefXYZ';
const SK = 'sk_test_psp_ssrf_0123456789';

/** A stand-in for a public PSP host name: the check's DNS lookup answers a global address. */
const PUBLIC_NAME = 'psp.example.com';
const publicLookup = async (host: string): Promise<string[]> => (host === PUBLIC_NAME ? ['93.184.215.14'] : ['10.0.0.7']);

let db: TestDatabase;
/** Production-like: private URLs not allowed, guarded PSP fetch. */
let strict: Deps;
const strictAgent = createGuardedAgent({ allowPrivate: false, connectTimeoutMs: 2_000 });
/** Development-like: private URLs allowed, the same PSP fetch through a plain Agent. */
let open: Deps;
const openAgent = createGuardedAgent({ allowPrivate: true, connectTimeoutMs: 2_000 });

/** A real local "PSP" on 127.0.0.1 counting connections and requests; answers a captured PaymentIntent, or a redirect. */
let psp: Server;
let port: number;
let connections = 0;
const requests: { url: string; authorization: string | undefined }[] = [];
let redirectNext = false;

beforeAll(async () => {
  db = await createTestDatabase();
  strict = {
    ...(await testDeps(db, { env: { SWITCHYARD_ALLOW_PRIVATE_URLS: 'false' } })),
    checkOutboundUrl: (url, opts) => checkEndpointUrl(url, { ...opts, lookup: publicLookup }),
    pspFetch: guardedPspFetch(strictAgent),
  };
  // the same master key, so both decrypt the sources either creates
  open = { ...(await testDeps(db)), secretBox: strict.secretBox, pspFetch: guardedPspFetch(openAgent) };
  psp = createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => {
      if (redirectNext) {
        res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
        return;
      }
      const pi = { id: 'pi_local_1', object: 'payment_intent', status: 'succeeded', amount: 2000, amount_received: 2000, currency: 'usd' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(pi));
    });
  });
  psp.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => psp.listen(0, '127.0.0.1', resolve));
  port = (psp.address() as AddressInfo).port;
});

afterAll(async () => {
  psp.closeAllConnections();
  await new Promise<void>((resolve) => psp.close(() => resolve()));
  await strictAgent.close();
  await openAgent.close();
  await db.drop();
});

async function createSource(deps: Deps, apiKey: string, apiBaseUrl: string): Promise<Response> {
  return testApp(deps).request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl }, apiKey));
}

/** A merchant with a Stripe source whose apiBaseUrl is `apiBaseUrl`, created through the API under `deps`. */
async function aShopAt(deps: Deps, apiBaseUrl: string): Promise<Shop> {
  const m = await aMerchant(deps, `Shop ${Math.random().toString(36).slice(2, 8)}`);
  const res = await createSource(deps, m.apiKey, apiBaseUrl);
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; inboundUrl: string };
  return { merchantId: m.id, apiKey: m.apiKey, sourceId: body.id, inboundUrl: body.inboundUrl };
}

/** What a row stored before the check (or edited in the database) looks like. */
async function storeApiBaseUrl(sourceId: string, apiBaseUrl: string): Promise<void> {
  await db.sql`update gw.sources set api_base_url = ${apiBaseUrl} where id = ${sourceId}`;
}

const createBody = (shop: Shop) => ({
  amount: 2000,
  currency: 'usd',
  sourceId: shop.sourceId,
  merchantReference: 'order-1',
  paymentMethod: 'pm_card_visa',
});

describe('POST /v1/sources apiBaseUrl (private URLs not allowed)', () => {
  it.each([
    ['https://169.254.169.254/latest/meta-data', 'link-local (cloud metadata)'],
    ['https://127.0.0.1:8443', 'loopback'],
    ['https://2130706433/', 'loopback'], // decimal 127.0.0.1
    ['https://0177.0.0.1/', 'loopback'], // octal
    ['https://0x7f.1/', 'loopback'], // hex, short form
    ['https://[::1]/', 'loopback'],
    ['https://[::ffff:169.254.169.254]/', 'link-local (cloud metadata)'],
    ['https://10.1.2.3/v1', 'private network (RFC 1918)'],
    ['https://192.168.0.10/', 'private network (RFC 1918)'],
    ['https://100.64.0.1/', 'shared address space'],
    ['https://localhost:12111', 'localhost is loopback'],
    ['https://stripe-mock.localhost', 'loopback'],
    ['https://internal.example.net', 'resolves to 10.0.0.7, which is private network'],
    ['http://psp.example.com', 'must use https'],
    ['https://user:pw@psp.example.com', 'must not contain credentials'],
  ])('refuses %s with 400 url_not_allowed and stores nothing', async (url, why) => {
    const m = await aMerchant(strict, `M ${Math.random()}`);
    const res = await createSource(strict, m.apiKey, url);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await res.json()) as { code: string; detail: string };
    expect(problem.code).toBe('url_not_allowed');
    expect(problem.detail).toContain(why);
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.sources where merchant_id = ${m.id}`;
    expect(row!.n).toBe(0);
  });

  it('accepts an https URL whose host resolves to global addresses only', async () => {
    const m = await aMerchant(strict, 'Public');
    expect((await createSource(strict, m.apiKey, `https://${PUBLIC_NAME}/v1`)).status).toBe(201);
  });

  it('refuses every apiBaseUrl when the runtime has no URL check (fails closed)', async () => {
    const { checkOutboundUrl: _, ...unchecked } = strict;
    const m = await aMerchant(strict, 'Unchecked');
    const res = await createSource(unchecked, m.apiKey, `https://${PUBLIC_NAME}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('url_not_allowed');
    // without apiBaseUrl the check is not needed
    const plain = await testApp(unchecked).request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: SECRET, apiKey: SK }, m.apiKey),
    );
    expect(plain.status).toBe(201);
  });

  it('lets SWITCHYARD_ALLOW_PRIVATE_URLS=true through: a local stand-in over http', async () => {
    const m = await aMerchant(open, 'Local');
    expect((await createSource(open, m.apiKey, `http://127.0.0.1:${port}`)).status).toBe(201);
  });
});

describe('PSP calls through the guarded fetch', () => {
  it('reaches a local stand-in when private URLs are allowed (the control: the server and the fetch work)', async () => {
    const shop = await aShopAt(open, `http://127.0.0.1:${port}`);
    const { commands } = apps(open);
    const before = requests.length;
    const res = await commands.request('/v1/payments', command(shop, 'open-1', createBody(shop)));
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ status: 'captured', pspReference: 'pi_local_1' });
    expect(requests.slice(before)).toEqual([{ url: '/v1/payment_intents', authorization: `Bearer ${SK}` }]);
  });

  it('does not follow a redirect: one request, and the 302 is the answer', async () => {
    const shop = await aShopAt(open, `http://127.0.0.1:${port}`);
    const { commands } = apps(open);
    const before = requests.length;
    redirectNext = true;
    try {
      const res = await commands.request('/v1/payments', command(shop, 'redirect-1', createBody(shop)));
      expect(res.status).toBe(502);
      expect(((await res.json()) as { code: string }).code).toBe('psp_request_rejected');
    } finally {
      redirectNext = false;
    }
    expect(requests.slice(before).map((r) => r.url)).toEqual(['/v1/payment_intents']);
  });

  it.each([
    ['a loopback IP literal', (p: number) => `https://127.0.0.1:${p}`, '127.0.0.1 is loopback'],
    ['an IPv4-mapped loopback literal', (p: number) => `https://[::ffff:127.0.0.1]:${p}`, 'is loopback'],
    ['a name resolving to loopback at connect time', (p: number) => `https://localhost:${p}`, 'localhost is loopback'],
    ['the cloud metadata address', () => 'https://169.254.169.254', '169.254.169.254 is link-local (cloud metadata)'],
  ])('never sends a create to %s stored before the check: 422 url_not_allowed, no connection', async (_name, url, why) => {
    const shop = await aShopAt(strict, `https://${PUBLIC_NAME}`);
    await storeApiBaseUrl(shop.sourceId, url(port));
    const { commands } = apps(strict);
    const [connectionsBefore, requestsBefore] = [connections, requests.length];

    const res = await commands.request('/v1/payments', command(shop, 'blocked-1', createBody(shop)));
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { code: string; detail: string };
    expect(problem.code).toBe('url_not_allowed');
    expect(problem.detail).toMatch(/^Nothing was sent to the PSP: the source apiBaseUrl is not allowed: /);
    expect(problem.detail).toContain(why);
    expect(problem.detail).not.toContain(SK);
    expect([connections, requests.length]).toEqual([connectionsBefore, requestsBefore]);

    // the operation failed (not pending: no status sync will retry it), no payment exists
    const ops = await db.sql<{ status: string; failure_code: string }[]>`
      select status, failure_code from gw.psp_operations where source_id = ${shop.sourceId}`;
    expect(ops).toEqual([{ status: 'failed', failure_code: 'url_not_allowed' }]);
    const [payments] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.payments where source_id = ${shop.sourceId}`;
    expect(payments!.n).toBe(0);

    // the key replays the same answer
    const again = await commands.request('/v1/payments', command(shop, 'blocked-1', createBody(shop)));
    expect(again.status).toBe(422);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect([connections, requests.length]).toEqual([connectionsBefore, requestsBefore]);
  });

  it('never sends to an http apiBaseUrl stored before the check (https is required)', async () => {
    const shop = await aShopAt(strict, `https://${PUBLIC_NAME}`);
    await storeApiBaseUrl(shop.sourceId, `http://127.0.0.1:${port}`);
    const { commands } = apps(strict);
    const [connectionsBefore, requestsBefore] = [connections, requests.length];
    const res = await commands.request('/v1/payments', command(shop, 'http-1', createBody(shop)));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toContain('must be https');
    expect([connections, requests.length]).toEqual([connectionsBefore, requestsBefore]);
  });

  it('refuses a refund of an existing payment once its source points at a forbidden address; the payment is unchanged', async () => {
    // created through the local stand-in (allowed), then the source is re-pointed at loopback
    const shop = await aShopAt(open, `http://127.0.0.1:${port}`);
    const created = await apps(open).commands.request('/v1/payments', command(shop, 'refund-setup', createBody(shop)));
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await storeApiBaseUrl(shop.sourceId, `https://127.0.0.1:${port}`);
    const [connectionsBefore, requestsBefore] = [connections, requests.length];

    const res = await apps(strict).commands.request(`/v1/payments/${id}/refunds`, command(shop, 'refund-1', { amount: 500 }));
    expect(res.status).toBe(422);
    expect(((await res.json()) as { code: string }).code).toBe('url_not_allowed');
    expect([connections, requests.length]).toEqual([connectionsBefore, requestsBefore]);
    const [payment] = await db.sql<{ status: string; refunded_amount: string }[]>`
      select status, refunded_amount::text from gw.payments where id = ${id}`;
    expect(payment).toEqual({ status: 'captured', refunded_amount: '0' });
  });
});
