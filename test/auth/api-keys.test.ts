// API keys as objects (issue #20 item 1): permissions declared on every route, restricted keys, rolling and revoking
// under concurrent use, and the cross-tenant check generated from the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../src/core/auth/permissions.js';
import type { Deps } from '../../src/core/deps.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { anOwner, call, fillPath, operationsOf, prefixOf, unknownId, type Operation, type Owner } from './fixtures.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let ops: Operation[];

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  ops = await operationsOf(app);
});
afterAll(async () => db.drop());

async function newKey(
  apiKey: string,
  body: Record<string, unknown>,
): Promise<{ id: string; key: string; prefix: string } & Record<string, unknown>> {
  const res = await app.request('/v1/api-keys', jsonRequest('POST', body, apiKey));
  const json = (await res.json()) as { id: string; key: string; prefix: string } & Record<string, unknown>;
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json;
}

describe('route permissions', () => {
  it('every /v1 and /admin operation declares x-switchyard-permission (admin ones `admin`) and has a unique operationId', () => {
    expect(ops.length).toBeGreaterThan(50);
    const valid = new Set(['any', ...RESOURCES.flatMap((r) => [`${r}:read`, `${r}:write`])]);
    for (const op of ops) {
      const where = `${op.method} ${op.path}`;
      if (op.path.startsWith('/admin/')) expect(op.permission, where).toBe('admin');
      else expect(valid.has(op.permission ?? ''), `${where} declares ${op.permission}`).toBe(true);
      // A read needs read, except the one that shows a signing secret: it needs what rotating it needs.
      if (op.method === 'GET' && op.path !== '/v1/endpoints/{id}/secret') expect(op.permission, where).not.toMatch(/:write$/);
    }
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every resource has a route, so a restricted key can be given each', () => {
    for (const r of RESOURCES)
      expect(
        ops.some((o) => o.permission?.startsWith(`${r}:`)),
        r,
      ).toBe(true);
  });
});

describe('POST/GET/DELETE /v1/api-keys and roll', () => {
  it('makes sk_ full and rk_ restricted keys shown once; lists them without the key; existing keys stay full keys', async () => {
    const m = await aMerchant(deps);
    const full = await newKey(m.apiKey, { name: 'ci' });
    expect(full.key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(full.permissions).toBeNull();
    const restricted = await newKey(m.apiKey, { name: 'reader', permissions: { payments: 'read' } });
    expect(restricted.key).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);
    expect(restricted.prefix).toBe(restricted.key.slice(0, 7));
    expect(restricted.permissions).toMatchObject({ payments: 'read', endpoints: 'none', api_keys: 'none' });

    const list = (await (await call(app, m.apiKey, 'GET', '/v1/api-keys')).json()) as { data: Record<string, unknown>[] };
    expect(list.data.map((k) => k.id)).toEqual([restricted.id, full.id, expect.stringMatching(/^key_/)]);
    expect(JSON.stringify(list)).not.toContain(restricted.key);
    expect(list.data[2]).toMatchObject({ name: null, permissions: null, expiresAt: null });
    for (const k of list.data) expect(k).not.toHaveProperty('key');

    expect((await call(app, full.key, 'GET', '/v1/endpoints')).status).toBe(200);
    expect((await call(app, m.apiKey, 'GET', '/v1/endpoints')).status).toBe(200);
  });

  it('refuses unknown resources and levels, a past expiry, and a restricted key making or rolling a stronger key', async () => {
    const m = await aMerchant(deps);
    expect((await call(app, m.apiKey, 'POST', '/v1/api-keys', { name: 'x', permissions: { widgets: 'read' } })).status).toBe(400);
    expect((await call(app, m.apiKey, 'POST', '/v1/api-keys', { name: 'x', permissions: { payments: 'all' } })).status).toBe(400);
    expect((await call(app, m.apiKey, 'POST', '/v1/api-keys', { name: 'x', expiresAt: '2020-01-01T00:00:00Z' })).status).toBe(400);
    const admin = await newKey(m.apiKey, { name: 'keys', permissions: { api_keys: 'write' } });
    const stronger = await call(app, admin.key, 'POST', '/v1/api-keys', { name: 'x', permissions: { payments: 'write' } });
    expect(stronger.status).toBe(403);
    expect(await stronger.json()).toMatchObject({ code: 'permission_denied' });
    expect((await call(app, admin.key, 'POST', '/v1/api-keys', { name: 'x' })).status).toBe(403);
    const list = (await (await call(app, m.apiKey, 'GET', '/v1/api-keys')).json()) as { data: { id: string; permissions: unknown }[] };
    const fullId = list.data.find((k) => k.permissions === null)!.id;
    expect((await call(app, admin.key, 'POST', `/v1/api-keys/${fullId}/roll`, {})).status).toBe(403);
    expect((await call(app, admin.key, 'POST', '/v1/api-keys', { name: 'x', permissions: { api_keys: 'read' } })).status).toBe(201);
  });

  it('answers 401 api_key_expired for an expired key and unauthorized for a revoked or unknown one', async () => {
    const m = await aMerchant(deps);
    const soon = await newKey(m.apiKey, { name: 'short', expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect((await call(app, soon.key, 'GET', '/v1/merchant')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    const expired = await call(app, soon.key, 'GET', '/v1/merchant');
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ code: 'api_key_expired' });
    const gone = await newKey(m.apiKey, { name: 'gone' });
    expect((await call(app, m.apiKey, 'DELETE', `/v1/api-keys/${gone.id}`)).status).toBe(200);
    const revoked = await call(app, gone.key, 'GET', '/v1/merchant');
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ code: 'unauthorized' });
    expect((await call(app, m.apiKey, 'DELETE', `/v1/api-keys/${gone.id}`)).status).toBe(404);
    expect((await call(app, 'sk_nothing', 'GET', '/v1/merchant')).status).toBe(401);
  });

  it('records lastUsedAt at most once a minute, not on every request', async () => {
    const m = await aMerchant(deps);
    const k = await newKey(m.apiKey, { name: 'busy' });
    const before = await db.sql`select last_used_at from gw.api_keys where id = ${k.id}`;
    expect(before[0]!.last_used_at).toBeNull();
    await call(app, k.key, 'GET', '/v1/merchant');
    const [first] = await db.sql<{ last_used_at: Date; xmin: string }[]>`select last_used_at, xmin from gw.api_keys where id = ${k.id}`;
    expect(first!.last_used_at).toBeInstanceOf(Date);
    await Promise.all(Array.from({ length: 10 }, () => call(app, k.key, 'GET', '/v1/merchant')));
    const [after] = await db.sql<{ last_used_at: Date; xmin: string }[]>`select last_used_at, xmin from gw.api_keys where id = ${k.id}`;
    // The row was not rewritten: same value, same row version.
    expect(after).toEqual(first);
  });
});

describe('rolling and revoking under concurrent use', () => {
  it('a rolled key keeps working until its expiry while the new one works at once; no request in flight fails', async () => {
    const m = await aMerchant(deps);
    const old = await newKey(m.apiKey, { name: 'rolling', permissions: { endpoints: 'write' } });
    const traffic = Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 5));
        return (await call(app, old.key, 'GET', '/v1/endpoints')).status;
      }),
    );
    const rolled = await call(app, m.apiKey, 'POST', `/v1/api-keys/${old.id}/roll`, {});
    expect(rolled.status).toBe(201);
    const fresh = (await rolled.json()) as { id: string; key: string; permissions: Record<string, string> };
    expect(fresh.key).toMatch(/^rk_/);
    expect(fresh.permissions.endpoints).toBe('write');
    expect(new Set(await traffic)).toEqual(new Set([200]));
    expect((await call(app, fresh.key, 'GET', '/v1/endpoints')).status).toBe(200);
    expect((await call(app, old.key, 'GET', '/v1/endpoints')).status).toBe(200);
    const [row] = await db.sql<{ expires_at: Date }[]>`select expires_at from gw.api_keys where id = ${old.id}`;
    expect(Math.abs(row!.expires_at.getTime() - (Date.now() + 24 * 3600_000))).toBeLessThan(60_000);

    // Rolled again with no grace: the key it replaced stops at once, with the code that says why.
    const again = await call(app, m.apiKey, 'POST', `/v1/api-keys/${fresh.id}/roll`, { expiresInSeconds: 0 });
    expect(again.status).toBe(201);
    const third = (await again.json()) as { key: string };
    const refused = await call(app, fresh.key, 'GET', '/v1/endpoints');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'api_key_expired' });
    expect((await call(app, third.key, 'GET', '/v1/endpoints')).status).toBe(200);
  });

  it('two rolls of one key at once make two working keys; the old one gets one expiry', async () => {
    const m = await aMerchant(deps);
    const old = await newKey(m.apiKey, { name: 'twice' });
    const [a, b] = await Promise.all([
      call(app, m.apiKey, 'POST', `/v1/api-keys/${old.id}/roll`, { expiresInSeconds: 600 }),
      call(app, m.apiKey, 'POST', `/v1/api-keys/${old.id}/roll`, { expiresInSeconds: 600 }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    const keys = [((await a.json()) as { key: string }).key, ((await b.json()) as { key: string }).key];
    expect(keys[0]).not.toBe(keys[1]);
    for (const k of keys) expect((await call(app, k, 'GET', '/v1/merchant')).status).toBe(200);
  });

  it('a revoked key is refused from the revoke’s answer on, while requests around it never fail otherwise', async () => {
    const m = await aMerchant(deps);
    const k = await newKey(m.apiKey, { name: 'leaked' });
    const statuses = Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 5));
        return (await call(app, k.key, 'GET', '/v1/merchant')).status;
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect((await call(app, m.apiKey, 'DELETE', `/v1/api-keys/${k.id}`)).status).toBe(200);
    const after = await Promise.all(Array.from({ length: 10 }, () => call(app, k.key, 'GET', '/v1/merchant')));
    expect(after.map((r) => r.status)).toEqual(Array(10).fill(401));
    for (const s of await statuses) expect([200, 401]).toContain(s);
  });
});

describe('restricted keys', () => {
  /** The first read and first write operation of each resource in the document. */
  function routesOf(resource: string): { read?: Operation; write?: Operation } {
    return {
      read: ops.find((o) => o.permission === `${resource}:read`),
      write: ops.find((o) => o.permission === `${resource}:write`),
    };
  }
  const path = (op: Operation) => fillPath(op, (p) => (prefixOf(p.example) ? unknownId(prefixOf(p.example)!) : 'x'));

  it('each level (none, read, write) of every resource against its read and its write route: 403 permission_denied naming the permission, or through', async () => {
    const m = await aMerchant(deps);
    for (const resource of RESOURCES) {
      const { read, write } = routesOf(resource);
      for (const level of ['none', 'read', 'write'] as const) {
        const k = await newKey(m.apiKey, { name: `${resource}-${level}`, permissions: { [resource]: level } });
        for (const [op, needs] of [
          [read, 'read'],
          [write, 'write'],
        ] as const) {
          if (!op) continue;
          const res = await call(app, k.key, op.method, path(op), op.method === 'GET' || op.method === 'DELETE' ? undefined : {});
          const allowed = level === 'write' || (level === 'read' && needs === 'read');
          const where = `${level} key on ${op.method} ${op.path}`;
          if (allowed) {
            expect([401, 403], where).not.toContain(res.status);
          } else {
            expect(res.status, where).toBe(403);
            const body = (await res.json()) as { code: string; detail: string };
            expect(body.code, where).toBe('permission_denied');
            expect(body.detail, where).toContain(`${resource}:${needs}`);
          }
        }
      }
    }
  });

  it('a key with no permission at all still reads GET /v1/merchant (any) and nothing else', async () => {
    const m = await aMerchant(deps);
    const k = await newKey(m.apiKey, { name: 'nothing', permissions: {} });
    expect((await call(app, k.key, 'GET', '/v1/merchant')).status).toBe(200);
    expect((await call(app, k.key, 'GET', '/v1/event-types')).status).toBe(200);
    expect((await call(app, k.key, 'GET', '/v1/payments')).status).toBe(403);
  });
});

/** Bodies that pass validation, so a request reaches the ownership check; `{}` for every other operation. */
const BODIES: Record<string, unknown> = {
  patchEndpointsById: { description: 'x' },
  patchRiskRulesById: { name: 'x' },
  postRiskListsByIdItems: { value: 'example.com' },
  postPaymentsByIdRefunds: {},
  postReviewsByIdReject: { reason: 'x' },
  postSourcesByIdSecrets: { secret: 'whsec_cross_tenant_0123456789abcdef' },
  postEndpointsByIdRecover: { since: new Date(Date.now() - 60_000).toISOString() },
  postEndpointsByIdTest: { eventType: 'webhook.test' },
  postEndpointsByIdFilterTest: { event: { type: 'payment.captured', data: {} } },
  patchSourcesById: { trust: 'signature' },
};

describe('cross-tenant (generated from the OpenAPI document)', () => {
  let owner: Owner;
  let other: { id: string; apiKey: string };
  beforeAll(async () => {
    owner = await anOwner(deps, app);
    other = await aMerchant(deps, 'Intruder');
  });

  it('answers 404 to merchant B’s key on merchant A’s object, for every operation that takes an id', async () => {
    const withIds = ops.filter((o) => o.path.startsWith('/v1/') && o.params.some((p) => prefixOf(p.example)));
    expect(withIds.length).toBeGreaterThan(30);
    const failures: string[] = [];
    for (const op of withIds) {
      const url = fillPath(op, (p) => {
        const prefix = prefixOf(p.example);
        if (prefix === undefined) return 'example.com';
        const id = owner.objects[prefix];
        if (id === undefined)
          throw new Error(`No fixture of kind ${prefix}_ for ${op.method} ${op.path}: add one to anOwner in test/auth/fixtures.ts`);
        return id;
      });
      const body = op.method === 'GET' || op.method === 'DELETE' ? undefined : (BODIES[op.operationId] ?? {});
      const res = await call(app, other.apiKey, op.method, url, body);
      if (res.status !== 404) failures.push(`${op.method} ${op.path} (${op.operationId}): ${res.status} ${await res.text()}`);
    }
    expect(failures).toEqual([]);
    // And A's own key still sees its objects: the 404s were about ownership, not about missing fixtures.
    for (const [prefix, id] of Object.entries(owner.objects)) {
      const get = ops.find((o) => o.method === 'GET' && o.params.length === 1 && prefixOf(o.params[0]!.example) === prefix);
      if (!get) continue;
      expect(
        (
          await call(
            app,
            owner.apiKey,
            'GET',
            fillPath(get, () => id),
          )
        ).status,
        get.path,
      ).toBe(200);
    }
  });
});
