// What the merchant and admin APIs do with input PostgreSQL cannot hold or the server should
// not read: a NUL or an unpaired surrogate anywhere (400, ids 404, never 500), bodies over the
// size limit (413 before they are read), bodies nested too deep (400).
import { connect, type AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps, TEST_ADMIN_TOKEN } from '../app.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let apiKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { env: { SWITCHYARD_API_MAX_BYTES: String(64 * 1024) } });
  app = testApp(deps);
  apiKey = (await aMerchant(deps)).apiKey;
});
afterAll(async () => db.drop());

const auth = (): Record<string, string> => ({ authorization: `Bearer ${apiKey}` });

async function problem(res: Response): Promise<{ status: number; code: string; type: string | null; body: Record<string, unknown> }> {
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, code: body.code as string, type: res.headers.get('content-type'), body };
}

/** Every /v1 route with a path parameter, as the app declares them, the parameter replaced by `value`. */
function parameterisedRoutes(value: string): { method: string; path: string }[] {
  const seen = new Set<string>();
  return app.routes
    .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/') && r.path.includes('/:'))
    .map((r) => ({ method: r.method, path: r.path.replace(/:[A-Za-z]+/g, value) }))
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
}

describe('text PostgreSQL cannot store', () => {
  it('in an id on the path is 404 not_found on every /v1 route, never 500', async () => {
    const routes = parameterisedRoutes('%00');
    expect(routes.length).toBeGreaterThanOrEqual(12);
    for (const { method, path } of routes) {
      const res = await app.request(path, {
        method,
        headers: { ...auth(), 'content-type': 'application/json', 'idempotency-key': 'k-1' },
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
      });
      const p = await problem(res);
      expect({ route: `${method} ${path}`, status: p.status, code: p.code }).toEqual({
        route: `${method} ${path}`,
        status: 404,
        code: 'not_found',
      });
      expect(p.type).toBe('application/problem+json');
    }
  });

  it('in a query parameter is 400 invalid_request naming the parameter', async () => {
    for (const url of [
      '/v1/inbound-events?sourceId=%00',
      '/v1/payments?pspReference=%00x',
      '/v1/events?type=%00',
      '/v1/payments?status=ok&sourceId=src_%00',
      '/v1/endpoints?startingAfter=ep_%00',
      '/v1/ledger/balances?currency=%00',
    ]) {
      const p = await problem(await app.request(url, { headers: auth() }));
      expect({ url, status: p.status, code: p.code }).toEqual({ url, status: 400, code: 'invalid_request' });
      expect((p.body.errors as { path: string[] }[])[0]!.path[0]).toBe('query');
    }
  });

  it('in a JSON body, as a value or a key, escaped or not, is 400 invalid_request naming the path, and nothing is stored', async () => {
    const bodies = [
      '{"provider":"stripe","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","name":"a\\u0000b"}',
      '{"provider":"stripe","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","name":"lone \\ud800"}',
      '{"provider":"stripe","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","name":"low \\udc00 first"}',
      '{"provider":"stripe","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","\\u0000":"x"}',
    ];
    for (const body of bodies) {
      const res = await app.request('/v1/sources', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body });
      const p = await problem(res);
      expect({ body, status: p.status, code: p.code }).toEqual({ body, status: 400, code: 'invalid_request' });
    }
    const named = await problem(
      await app.request('/v1/endpoints', {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: '{"url":"https://example.com/hook","description":"ok","eventTypes":["payment.captured","x\\u0000"]}',
      }),
    );
    expect((named.body.errors as { path: unknown[] }[])[0]!.path).toEqual(['eventTypes', 1]);
    const [nRow] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.sources`;
    const n = nRow!.n;
    expect(n).toBe(0);
    const admin = await problem(await app.request('/admin/merchants', jsonRequest('POST', { name: 'Nul\u0000Corp' }, TEST_ADMIN_TOKEN)));
    expect([admin.status, admin.code]).toEqual([400, 'invalid_request']);
  });

  it('keeps well-formed text outside the Basic Multilingual Plane (a surrogate pair) as it is', async () => {
    const res = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', name: 'Café 🚀' }, apiKey),
    );
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string }).name).toBe('Café 🚀');
  });
});

describe('request bodies on /v1 and /admin', () => {
  it('over SWITCHYARD_API_MAX_BYTES are 413 payload_too_large problem+json, streamed or declared', async () => {
    const big = JSON.stringify({ provider: 'stripe', secret: 'whsec_x', name: 'x'.repeat(100 * 1024) });
    const streamed = await problem(
      await app.request('/v1/sources', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: big }),
    );
    expect([streamed.status, streamed.code, streamed.type]).toEqual([413, 'payload_too_large', 'application/problem+json']);
    const admin = await problem(
      await app.request('/admin/merchants', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'y'.repeat(100 * 1024) }),
      }),
    );
    expect([admin.status, admin.code]).toEqual([413, 'payload_too_large']);
  });

  it('declared over the limit are refused on the Content-Length alone, before the body is sent', async () => {
    let server: ServerType | undefined;
    try {
      server = await new Promise<ServerType>((resolve) => {
        const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
      });
      const { port } = server.address() as AddressInfo;
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.on('error', () => {});
      // 100 MB announced, only the headers sent: the answer must not wait for the body.
      socket.write(
        `POST /v1/sources HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${apiKey}\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n{"pro`,
      );
      await closed;
      expect(received).toMatch(/^HTTP\/1\.1 413 /);
      expect(received.toLowerCase()).toContain('content-type: application/problem+json');
      expect(received).toContain('"code":"payload_too_large"');
    } finally {
      server?.close();
    }
  });

  it('nested deeper than 32 levels are 400 invalid_request, not a stack overflow', async () => {
    const deep = `{"provider":"stripe","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","name":"n","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const p = await problem(
      await app.request('/v1/sources', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: deep }),
    );
    expect([p.status, p.code]).toEqual([400, 'invalid_request']);
    expect(p.body.detail).toContain('more than 32 levels');
  });
});
