// Custom headers and auth to receivers (src/outbound/receiver-credentials.ts, sql/0060_endpoint_headers_auth.sql):
// what the API accepts, refuses and shows; what real receivers on 127.0.0.1 get; OAuth2 tokens from a real token
// server, cached until they expire; a failing token server fails the attempt with `auth_failed`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { createGuardedAgent } from '../../src/outbound/ssrf.js';
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

async function createEndpoint(body: Record<string, unknown>, d: Deps = deps) {
  const merchant = await aMerchant(d);
  const res = await testApp(d).request('/v1/endpoints', jsonRequest('POST', body, merchant.apiKey));
  return { merchant, res, json: (await res.json()) as Record<string, unknown> & { id: string } };
}

let n = 0;
async function deliverOne(d: Deps, merchantId: string): Promise<string> {
  const e = await emitEvent(d.sql, {
    merchantId,
    type: 'payment.captured',
    paymentId: null,
    dedupeKey: `receiver-options-${++n}`,
    data: { n },
    at: new Date(),
  });
  const messageId = e!.messageIds[0]!;
  await deliverMessage(d, { messageId, attempt: 1 });
  return messageId;
}

async function attemptsOf(messageId: string) {
  return db.sql<{ status: string; response_status: number | null; error: string | null }[]>`
    select status, response_status, error from gw.attempts where message_id = ${messageId} order by attempt_number`;
}

/** A token server on 127.0.0.1: answers `status` with a fresh token per call, recording what it was sent. */
async function startTokenServer(opts: { status?: number; expiresIn?: number } = {}) {
  const calls: { authorization: string | undefined; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ authorization: req.headers.authorization, body: Buffer.concat(chunks).toString('utf8') });
      const status = opts.status ?? 200;
      if (status !== 200) return res.writeHead(status).end('{"error":"invalid_client"}');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: `tok-${calls.length}`, token_type: 'Bearer', expires_in: opts.expiresIn ?? 3600 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/oauth/token`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const header = (r: Received, name: string) => r.headers[name];

describe('custom headers', () => {
  it('arrive on every attempt, a secret one in clear on the wire, sealed at rest and masked in the API', async () => {
    const r = await receiver();
    const { merchant, res, json } = await createEndpoint({
      url: r.url,
      headers: [
        { name: 'X-Api-Key', value: 'k_live_123', secret: true },
        { name: 'X-Tenant', value: 'acme eu' },
      ],
    });
    expect(res.status).toBe(201);
    expect(json.headers).toEqual([
      { name: 'X-Api-Key', value: '********', secret: true },
      { name: 'X-Tenant', value: 'acme eu', secret: false },
    ]);
    const [stored] = await db.sql<{ headers: string }[]>`select headers::text from gw.endpoints where id = ${json.id}`;
    expect(stored!.headers).not.toContain('k_live_123');
    const got = await testApp(deps).request(`/v1/endpoints/${json.id}`, { headers: { authorization: `Bearer ${merchant.apiKey}` } });
    expect(JSON.stringify(await got.json())).not.toContain('k_live_123');

    await deliverOne(deps, merchant.id);
    await deliverOne(deps, merchant.id);
    expect(r.received).toHaveLength(2);
    for (const got of r.received) {
      expect(header(got, 'x-api-key')).toBe('k_live_123');
      expect(header(got, 'x-tenant')).toBe('acme eu');
      expect(header(got, 'webhook-signature')).toMatch(/^v1,/);
    }
  });

  it('are replaced by a PATCH, and the next attempt sends the new ones (the cache follows the version)', async () => {
    const r = await receiver();
    const { merchant, json } = await createEndpoint({ url: r.url, headers: [{ name: 'X-Api-Key', value: 'old', secret: true }] });
    await deliverOne(deps, merchant.id);
    const patched = await testApp(deps).request(
      `/v1/endpoints/${json.id}`,
      jsonRequest('PATCH', { headers: [{ name: 'X-Api-Key', value: 'new', secret: true }] }, merchant.apiKey),
    );
    expect(patched.status).toBe(200);
    await deliverOne(deps, merchant.id);
    await testApp(deps).request(`/v1/endpoints/${json.id}`, jsonRequest('PATCH', { headers: null }, merchant.apiKey));
    await deliverOne(deps, merchant.id);
    expect(r.received.map((g) => header(g, 'x-api-key'))).toEqual(['old', 'new', undefined]);
  });

  it.each([['webhook-signature'], ['Host'], ['content-length'], ['Content-Type'], ['transfer-encoding'], ['connection']])(
    'refuses %s with 400 naming the header',
    async (name) => {
      const { res, json } = await createEndpoint({ url: 'http://127.0.0.1:9/x', headers: [{ name, value: 'x' }] });
      expect(res.status).toBe(400);
      expect(json.code).toBe('invalid_request');
      expect(String(json.detail)).toContain(`"${name}"`);
    },
  );

  it('refuses a name that is not an RFC 9110 token, a value with CR/LF, a value over 1 KiB, more than 20 headers and duplicates', async () => {
    const bodies = [
      [{ name: 'X Bad', value: 'x' }],
      [{ name: 'X-Ok', value: 'a\r\nInjected: yes' }],
      [{ name: 'X-Ok', value: 'é'.repeat(513) }],
      Array.from({ length: 21 }, (_, i) => ({ name: `X-H${i}`, value: 'x' })),
      [
        { name: 'X-Dup', value: '1' },
        { name: 'x-dup', value: '2' },
      ],
    ];
    for (const headers of bodies) {
      const { res, json } = await createEndpoint({ url: 'http://127.0.0.1:9/x', headers });
      expect(res.status).toBe(400);
      expect(json.code).toBe('invalid_request');
    }
  });

  it('refuses an authorization header on an endpoint that has auth', async () => {
    const { res, json } = await createEndpoint({
      url: 'http://127.0.0.1:9/x',
      headers: [{ name: 'Authorization', value: 'Bearer x' }],
      auth: { type: 'basic', username: 'u', password: 'p' },
    });
    expect(res.status).toBe(400);
    expect(String(json.detail)).toContain('"authorization"');
  });
});

describe('auth to receivers', () => {
  it('basic: the receiver that requires it accepts the delivery; the password is sealed and never returned', async () => {
    const expected = `Basic ${Buffer.from('acme:s3cr3t pass').toString('base64')}`;
    const r = await receiver((_, req) => (req.headers.authorization === expected ? 200 : 401));
    const { merchant, res, json } = await createEndpoint({
      url: r.url,
      auth: { type: 'basic', username: 'acme', password: 's3cr3t pass' },
    });
    expect(res.status).toBe(201);
    expect(json.auth).toEqual({ type: 'basic', username: 'acme' });
    const [stored] = await db.sql<{ auth: string }[]>`select auth::text from gw.endpoints where id = ${json.id}`;
    expect(stored!.auth).not.toContain('s3cr3t');
    const messageId = await deliverOne(deps, merchant.id);
    expect(await attemptsOf(messageId)).toMatchObject([{ status: 'succeeded', response_status: 200 }]);
  });

  it('oauth2 client credentials: one token fetched (client auth, grant, scope) and reused until it expires', async () => {
    const tokens = await startTokenServer({ expiresIn: 3600 });
    const r = await receiver((_, req) => (String(req.headers.authorization).startsWith('Bearer tok-') ? 200 : 401));
    try {
      const { merchant, res, json } = await createEndpoint({
        url: r.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'client 1', clientSecret: 'cs:1', scope: 'webhooks' },
      });
      expect(res.status).toBe(201);
      expect(json.auth).toEqual({ type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'client 1', scope: 'webhooks' });
      for (let i = 0; i < 3; i++) {
        const messageId = await deliverOne(deps, merchant.id);
        expect(await attemptsOf(messageId)).toMatchObject([{ status: 'succeeded' }]);
      }
      expect(r.received.map((g) => header(g, 'authorization'))).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
      expect(tokens.calls).toHaveLength(1);
      // RFC 6749 §2.3.1: form-urlencoded id and secret as basic credentials.
      expect(tokens.calls[0]!.authorization).toBe(`Basic ${Buffer.from('client%201:cs%3A1').toString('base64')}`);
      expect(new URLSearchParams(tokens.calls[0]!.body).get('grant_type')).toBe('client_credentials');
      expect(new URLSearchParams(tokens.calls[0]!.body).get('scope')).toBe('webhooks');
    } finally {
      await tokens.close();
    }
  });

  it('oauth2: an expired token is fetched again', async () => {
    let now = new Date('2026-12-01T00:00:00Z').getTime();
    const clocked: Deps = { ...deps, clock: () => new Date(now) };
    const tokens = await startTokenServer({ expiresIn: 60 });
    const r = await receiver();
    try {
      const { merchant } = await createEndpoint(
        { url: r.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'c', clientSecret: 's' } },
        clocked,
      );
      await deliverOne(clocked, merchant.id);
      now += 30_000;
      await deliverOne(clocked, merchant.id);
      now += 60_000;
      await deliverOne(clocked, merchant.id);
      expect(r.received.map((g) => header(g, 'authorization'))).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
    } finally {
      await tokens.close();
    }
  });

  it('oauth2: a failing token server fails the attempt unsent with auth_failed, and it is retried', async () => {
    const tokens = await startTokenServer({ status: 500 });
    const r = await receiver();
    try {
      const { merchant } = await createEndpoint({
        url: r.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'c', clientSecret: 'very-secret' },
      });
      const messageId = await deliverOne(deps, merchant.id);
      const [attempt] = await attemptsOf(messageId);
      expect(attempt).toMatchObject({ status: 'failed', response_status: null, error: 'auth_failed: token endpoint answered 500' });
      expect(attempt!.error).not.toContain('very-secret');
      expect(r.received).toHaveLength(0);
      const [m] = await db.sql<{ status: string }[]>`select status from gw.messages where id = ${messageId}`;
      expect(m!.status).toBe('pending');
    } finally {
      await tokens.close();
    }
  });

  it('oauth2: the token is fetched through the SSRF guard (a private token URL is blocked when private URLs are not allowed)', async () => {
    const tokens = await startTokenServer();
    const r = await receiver();
    try {
      const guarded: Deps = { ...deps, dispatcher: createGuardedAgent({ allowPrivate: false }) };
      const { merchant } = await createEndpoint({
        url: r.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'c', clientSecret: 's' },
      });
      const messageId = await deliverOne(guarded, merchant.id);
      const [attempt] = await attemptsOf(messageId);
      expect(attempt!.error).toMatch(/^auth_failed: token endpoint: blocked: /);
      expect(tokens.calls).toHaveLength(0);
    } finally {
      await tokens.close();
    }
  });

  it('oauth2: a token URL the SSRF check refuses is 400 url_not_allowed', async () => {
    const strict = await testDeps(db, { env: { SWITCHYARD_ALLOW_PRIVATE_URLS: 'false' } });
    const { res, json } = await createEndpoint(
      {
        url: 'https://example.com/hooks',
        auth: { type: 'oauth2_client_credentials', tokenUrl: 'http://169.254.169.254/token', clientId: 'c', clientSecret: 's' },
      },
      strict,
    );
    expect(res.status).toBe(400);
    expect(json.code).toBe('url_not_allowed');
    expect(String(json.detail)).toContain('OAuth2 token URL');
  });
});
