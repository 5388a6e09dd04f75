// The OpenAPI document is generated from the routes' own zod schemas; these tests keep it
// valid, complete (every /v1 and /admin route is in it, and nothing else is), and served.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { TEST_ADMIN_TOKEN, aMerchant, testApp, testDeps } from '../app.js';

type Doc = {
  openapi: string;
  servers?: unknown;
  paths: Record<
    string,
    Record<string, { security?: Record<string, unknown>[]; responses: Record<string, { content?: Record<string, unknown> }> }>
  >;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
};

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

let db: TestDatabase;
let deps: Deps;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

async function documentOf(app: ReturnType<typeof testApp>): Promise<Doc> {
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  return (await res.json()) as Doc;
}

/** `METHOD /path/{param}` of every route the app routes under /v1 and /admin (middleware excluded). */
function routedOperations(app: { routes: { method: string; path: string }[] }): Set<string> {
  return new Set(
    app.routes
      .filter((r) => r.method !== 'ALL' && /^\/(v1|admin)\//.test(r.path))
      .map((r) => `${r.method.toUpperCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`),
  );
}

/** `METHOD /path/{param}` of every operation the document lists under /v1 and /admin. */
function documentedOperations(doc: Doc): Set<string> {
  return new Set(
    Object.entries(doc.paths)
      .filter(([path]) => /^\/(v1|admin)\//.test(path))
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((m) => METHODS.includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      ),
  );
}

const undocumented = (app: ReturnType<typeof testApp>, doc: Doc) =>
  [...routedOperations(app)].filter((op) => !documentedOperations(doc).has(op)).sort();

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, without servers', async () => {
    const doc = await documentOf(testApp(deps));
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toBeUndefined();
  });

  it('lists exactly the /v1 and /admin routes the app serves', async () => {
    const app = testApp(deps);
    const doc = await documentOf(app);
    const routed = routedOperations(app);
    const documented = documentedOperations(doc);

    expect(routed.size).toBeGreaterThan(20);
    expect([...routed].filter((op) => !documented.has(op)).sort()).toEqual([]);
    expect([...documented].filter((op) => !routed.has(op)).sort()).toEqual([]);
    expect(routed).toContain('POST /v1/sources/{id}/secrets');
    expect(routed).toContain('POST /admin/merchants');
  });

  it('catches a route that is routed but not described', async () => {
    const app = testApp(deps);
    app.get('/v1/undocumented/:id', (c) => c.text('hidden'));
    expect(undocumented(app, await documentOf(app))).toEqual(['GET /v1/undocumented/{id}']);
  });

  it('puts /v1 behind the merchant API key and /admin behind the admin token, both bearer schemes', async () => {
    const doc = await documentOf(testApp(deps));
    expect(doc.components.securitySchemes).toEqual({
      merchantApiKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      adminToken: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    for (const [path, item] of Object.entries(doc.paths)) {
      const scheme = path.startsWith('/v1/') ? 'merchantApiKey' : path.startsWith('/admin/') ? 'adminToken' : undefined;
      if (!scheme) continue;
      for (const [method, op] of Object.entries(item)) {
        expect(op.security, `${method} ${path}`).toEqual([{ [scheme]: [] }]);
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
      }
    }
  });

  it("describes every /v1 and /admin error response as problem+json whose code is one of the route's codes", async () => {
    const doc = await documentOf(testApp(deps));
    const rotate = doc.paths['/v1/sources/{id}/secrets']!.post!;
    expect(Object.keys(rotate.responses).sort()).toEqual(['200', '400', '401', '403', '404', '413', '429']);
    expect(rotate.responses['404']!.content).toEqual({
      'application/problem+json': {
        schema: {
          allOf: [
            { $ref: '#/components/schemas/Problem' },
            expect.objectContaining({ properties: { code: { type: 'string', enum: ['not_found'] } } }),
          ],
          description: expect.any(String),
        },
      },
    });
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!/^\/(v1|admin)\//.test(path)) continue;
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400)
            expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });

  it('declares the RateLimit headers on every /v1 response and Retry-After on every 429, as shared components', async () => {
    const doc = await documentOf(testApp(deps));
    const headers = (doc.components as unknown as { headers: Record<string, { schema: { type: string } }> }).headers;
    expect(Object.keys(headers).sort()).toEqual(['RateLimit', 'RateLimit-Policy', 'Retry-After']);
    expect(headers['Retry-After']!.schema.type).toBe('integer');
    const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
    let v1Responses = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses) as [string, { headers?: Record<string, unknown> }][]) {
          const where = `${method} ${path} ${status}`;
          if (path.startsWith('/v1/')) {
            v1Responses++;
            expect(response.headers?.['RateLimit-Policy'], where).toEqual(ref('RateLimit-Policy'));
            expect(response.headers?.RateLimit, where).toEqual(ref('RateLimit'));
            expect(response.headers?.['Retry-After'], where).toEqual(status === '429' ? ref('Retry-After') : undefined);
          } else if (path.startsWith('/admin/') || path.startsWith('/healthz')) {
            expect(response.headers?.RateLimit, where).toBeUndefined();
          }
        }
        if (path.startsWith('/v1/')) expect(Object.keys(op.responses), `${method} ${path}`).toContain('429');
      }
    }
    expect(v1Responses).toBeGreaterThan(100);
    const inbound = doc.paths['/inbound/{sourceId}']!.post!.responses as Record<string, { headers?: Record<string, unknown> }>;
    expect(inbound['429']!.headers).toEqual({
      'RateLimit-Policy': ref('RateLimit-Policy'),
      RateLimit: ref('RateLimit'),
      'Retry-After': ref('Retry-After'),
    });
    expect(inbound['401']!.headers).toEqual({ 'RateLimit-Policy': ref('RateLimit-Policy'), RateLimit: ref('RateLimit') });
    expect(inbound['200']!.headers).toBeUndefined();

    // What a /v1 answer sends is what the document declares for it.
    const m = await aMerchant(deps, 'Headers');
    const res = await testApp(deps).request('/v1/merchant', { headers: { authorization: `Bearer ${m.apiKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toMatch(/^"api";q=\d+;w=\d+$/);
    expect(res.headers.get('ratelimit')).toMatch(/^"api";r=\d+;t=\d+$/);
  });
});

describe('GET /docs', () => {
  it('answers an HTML reference page that loads /openapi.json', async () => {
    const res = await testApp(deps).request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('SwaggerUIBundle');
    expect(html).toContain('/openapi.json');
  });

  it('loads Swagger UI from the gateway itself (swagger-ui-dist), nothing from another host', async () => {
    const app = testApp(deps);
    const html = await (await app.request('/docs')).text();
    expect(html).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}/i); // no https://host, no //host
    expect(html).toContain("validatorUrl: 'none'");
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(['/docs/assets/swagger-ui-dist/swagger-ui-bundle.js', '/docs/assets/swagger-ui-dist/swagger-ui.css']);
    for (const [asset, type, marker] of [
      [assets[0]!, 'text/javascript', 'SwaggerUIBundle'],
      [assets[1]!, 'text/css', '.swagger-ui'],
    ] as const) {
      const res = await app.request(asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(await res.text()).toContain(marker);
    }
    expect((await app.request('/docs/assets/swagger-ui-dist/index.html')).status).toBe(404);
    expect((await app.request('/docs/assets/swagger-ui-dist/..%2Fpackage.json')).status).toBe(404);
  });
});

describe('validation through the OpenAPI routes', () => {
  // A string body gets content-type text/plain from Request itself: the cases without a
  // content-type send bytes.
  const admin = (body: string | undefined, contentType?: string) =>
    testApp(deps).request('/admin/merchants', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(contentType ? { 'content-type': contentType } : {}) },
      ...(body === undefined ? {} : { body: contentType ? body : new TextEncoder().encode(body) }),
    });

  it('answers problem+json 400 invalid_request with the issues for a body that fails its schema, is empty, is not JSON or is sent as another type', async () => {
    for (const [body, type, path] of [
      ['{"name":""}', 'application/json', 'name'],
      ['{"name":"Acme","plan":"gold"}', 'application/json', ''],
      ['', 'application/json', 'name'],
      [undefined, undefined, 'name'],
      ['{"name":', 'application/json', ''],
      ['{"name":"Acme"}', 'text/plain', ''],
      ['', 'text/plain', ''],
      ['{"name":"Acme"}', undefined, ''],
    ] as const) {
      const res = await admin(body, type);
      expect(res.status, `${type} ${body}`).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await res.json()) as { code: string; errors: { path: (string | number)[] }[] };
      expect(problem.code).toBe('invalid_request');
      expect(
        problem.errors.map((e) => e.path.join('.')),
        `${type} ${body}`,
      ).toContain(path);
    }
  });

  it('takes a JSON body with a charset parameter', async () => {
    const res = await admin('{"name":"Acme"}', 'application/json; charset=utf-8');
    expect(res.status).toBe(201);
  });

  it('answers 400 invalid_request for a bad query parameter, after authentication', async () => {
    const { apiKey } = await aMerchant(deps);
    const app = testApp(deps);
    for (const query of ['limit=0', 'limit=251', 'limit=ten', 'status=lost']) {
      const res = await app.request(`/v1/payments?${query}`, { headers: { authorization: `Bearer ${apiKey}` } });
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'invalid_request' });
    }
    const anonymous = await app.request('/v1/payments?limit=0');
    expect(anonymous.status).toBe(401);
  });
});

describe('a method the path has no route for', () => {
  it('is 405 method_not_allowed with Allow listing the methods the path has; a path with no route is 404 not_found', async () => {
    const merchant = await aMerchant(deps);
    const app = testApp(deps);
    const auth = { authorization: `Bearer ${merchant.apiKey}` };

    const wrong = await app.request('/v1/payments', { method: 'DELETE', headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(wrong.headers.get('content-type')).toBe('application/problem+json');
    expect(await wrong.json()).toMatchObject({ status: 405, code: 'method_not_allowed', title: 'Method Not Allowed' });

    const param = await app.request('/v1/endpoints/ep_0193a1b2c3d4e5f60718293a4b5c0000', { method: 'PUT', headers: auth });
    expect(param.status).toBe(405);
    expect(param.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');

    const admin = await app.request('/admin/merchants', { method: 'PUT', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(admin.status).toBe(405);

    const missing = await app.request('/v1/no-such-thing', { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'not_found' });
  });
});
