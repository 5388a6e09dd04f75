// The audit log (issue #20 item 2): one row per mutating request, in the request's own transaction; refused requests
// too; append-only; never a secret; read through GET /v1/audit-log and GET /admin/audit-log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { TEST_ADMIN_TOKEN, aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { anOwner, call, fillPath, operationsOf, prefixOf, unknownId, type Operation, type Owner } from './fixtures.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let ops: Operation[];
let owner: Owner;
/** Every secret a test here made: none may appear in gw.audit_log. */
const secrets: string[] = [TEST_ADMIN_TOKEN];

const ORIGIN = 'http://127.0.0.1:3000';

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  ops = await operationsOf(app);
  owner = await anOwner(deps, app);
  secrets.push(...owner.secrets);
});
afterAll(async () => db.drop());

type Row = {
  id: string;
  merchant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_prefix: string | null;
  operation: string;
  path: string;
  object_ids: string[];
  request_id: string;
  client_address: string | null;
  user_agent: string | null;
  status: number;
  xmin: string;
};

const rowsOf = (requestId: string) => db.sql<Row[]>`select *, xmin from gw.audit_log where request_id = ${requestId}`;

let seq = 0;
const requestId = () => `req_audit_test_${++seq}`;

describe('every mutating operation (generated from the OpenAPI document)', () => {
  it('leaves exactly one row naming its operationId, whatever the answer', async () => {
    const mutating = ops.filter((o) => o.method !== 'GET');
    expect(mutating.length).toBeGreaterThan(25);
    const failures: string[] = [];
    for (const op of mutating) {
      const id = requestId();
      const url = fillPath(op, (p) => (prefixOf(p.example) ? unknownId(prefixOf(p.example)!) : 'x'));
      const credential = op.path.startsWith('/admin/') ? TEST_ADMIN_TOKEN : owner.apiKey;
      const res = await call(app, credential, op.method, url, op.method === 'DELETE' ? undefined : {}, {
        'x-request-id': id,
        'user-agent': 'audit-test/1.0',
      });
      const rows = await rowsOf(id);
      const where = `${op.method} ${op.path} (${res.status})`;
      if (rows.length !== 1) failures.push(`${where}: ${rows.length} rows`);
      else if (rows[0]!.operation !== op.operationId || rows[0]!.status !== res.status)
        failures.push(`${where}: ${JSON.stringify(rows[0])}`);
    }
    expect(failures).toEqual([]);
  });

  it('reads leave no row', async () => {
    const id = requestId();
    await call(app, owner.apiKey, 'GET', '/v1/endpoints', undefined, { 'x-request-id': id });
    expect(await rowsOf(id)).toEqual([]);
  });
});

describe('a change and its row', () => {
  it('commit in one transaction: the row names the actor, the operation, the object, the request, address and agent', async () => {
    const id = requestId();
    const res = await app.request('/v1/endpoints', {
      ...jsonRequest('POST', { url: 'https://example.com/audited' }, owner.apiKey),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.apiKey}`, 'x-request-id': id, 'user-agent': 'ua/2' },
    });
    expect(res.status).toBe(201);
    const ep = (await res.json()) as { id: string; secret: string };
    secrets.push(ep.secret);
    const [row] = await rowsOf(id);
    const [key] = await db.sql<{ id: string; prefix: string }[]>`
      select id, prefix from gw.api_keys where merchant_id = ${owner.merchantId} and name is null`;
    expect(row).toMatchObject({
      merchant_id: owner.merchantId,
      actor_type: 'api_key',
      actor_id: key!.id,
      actor_prefix: key!.prefix,
      operation: 'postEndpoints',
      path: '/v1/endpoints',
      object_ids: [ep.id],
      status: 201,
      user_agent: 'ua/2',
    });
    expect(row!.client_address).not.toBeNull();
    const [endpoint] = await db.sql<{ xmin: string }[]>`select xmin from gw.endpoints where id = ${ep.id}`;
    // Same transaction id: the endpoint and its audit row were written by one transaction.
    expect(endpoint!.xmin).toBe(row!.xmin);

    // A route that opens its own transactions (rotate) joins the request's too.
    const rotateId = requestId();
    const rotated = await call(app, owner.apiKey, 'POST', `/v1/endpoints/${ep.id}/secret/rotate`, {}, { 'x-request-id': rotateId });
    expect(rotated.status).toBeLessThan(300);
    secrets.push(((await rotated.json()) as { secret: string }).secret);
    const [rotateRow] = await rowsOf(rotateId);
    expect(rotateRow).toMatchObject({
      operation: 'postEndpointsByIdSecretRotate',
      object_ids: [ep.id],
      path: '/v1/endpoints/{id}/secret/rotate',
    });
    const [secretRow] = await db.sql<{ xmin: string }[]>`
      select xmin from gw.endpoint_secrets where endpoint_id = ${ep.id} order by created_at desc limit 1`;
    expect(secretRow!.xmin).toBe(rotateRow!.xmin);
  });

  it('a refused request (403, 401, 400) changes nothing and leaves its own row', async () => {
    const reader = (await (
      await app.request('/v1/api-keys', jsonRequest('POST', { name: 'ro', permissions: { endpoints: 'read' } }, owner.apiKey))
    ).json()) as {
      id: string;
      key: string;
    };
    secrets.push(reader.key);
    const before = await db.sql`select count(*)::int as n from gw.endpoints where merchant_id = ${owner.merchantId}`;

    const denied = requestId();
    const res = await call(app, reader.key, 'POST', '/v1/endpoints', { url: 'https://example.com/no' }, { 'x-request-id': denied });
    expect(res.status).toBe(403);
    expect(await rowsOf(denied)).toMatchObject([
      { status: 403, actor_type: 'api_key', actor_id: reader.id, operation: 'postEndpoints', merchant_id: owner.merchantId },
    ]);

    const anonymous = requestId();
    expect(
      (
        await call(app, 'sk_wrong_key_never_stored', 'DELETE', `/v1/endpoints/${owner.objects.ep}`, undefined, {
          'x-request-id': anonymous,
        })
      ).status,
    ).toBe(401);
    expect(await rowsOf(anonymous)).toMatchObject([
      {
        status: 401,
        actor_type: 'anonymous',
        actor_id: null,
        merchant_id: null,
        operation: 'deleteEndpointsById',
        object_ids: [owner.objects.ep],
      },
    ]);
    secrets.push('sk_wrong_key_never_stored');

    const invalid = requestId();
    expect((await call(app, owner.apiKey, 'POST', '/v1/endpoints', { url: 'not a url' }, { 'x-request-id': invalid })).status).toBe(400);
    expect(await rowsOf(invalid)).toMatchObject([{ status: 400, operation: 'postEndpoints' }]);

    expect(await db.sql`select count(*)::int as n from gw.endpoints where merchant_id = ${owner.merchantId}`).toEqual(before);
  });

  it('admin requests are audited as admin; a portal login as the key that logged in; portal forms as the session', async () => {
    const id = requestId();
    const res = await call(app, TEST_ADMIN_TOKEN, 'POST', '/admin/merchants', { name: 'Audited' }, { 'x-request-id': id });
    expect(res.status).toBe(201);
    const made = (await res.json()) as { id: string; apiKey: string };
    secrets.push(made.apiKey);
    expect(await rowsOf(id)).toMatchObject([{ actor_type: 'admin', operation: 'postAdminMerchants', object_ids: [made.id], status: 201 }]);

    const login = requestId();
    const page = await app.request(`${ORIGIN}/portal/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': login },
      body: new URLSearchParams({ apiKey: made.apiKey }).toString(),
    });
    expect(page.status).toBe(303);
    const [loginRow] = await rowsOf(login);
    expect(loginRow).toMatchObject({ actor_type: 'api_key', merchant_id: made.id, operation: 'postPortalLogin', status: 303 });
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    secrets.push(cookie.split('=')[1]!);

    const logout = requestId();
    const html = await (await app.request(`${ORIGIN}/portal/endpoints`, { headers: { cookie } })).text();
    const csrf = html.match(/name="csrf-token" content="([0-9a-f]{64})"/)![1]!;
    const out = await app.request(`${ORIGIN}/portal/logout`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': logout },
      body: `_csrf=${csrf}`,
    });
    expect(out.status).toBe(303);
    expect(await rowsOf(logout)).toMatchObject([
      { actor_type: 'portal_session', actor_id: expect.stringMatching(/^pss_[0-9a-f]{24}$/), merchant_id: made.id },
    ]);

    // A failed login is recorded too, and keeps its failure count (the row and the count commit together).
    const failed = requestId();
    const bad = await app.request(`${ORIGIN}/portal/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': failed },
      body: 'apiKey=sk_not_a_key_at_all',
    });
    expect(bad.status).toBe(401);
    expect(await rowsOf(failed)).toMatchObject([{ actor_type: 'anonymous', status: 401 }]);
    expect((await db.sql`select count(*)::int as n from gw.portal_login_failures`)[0]!.n).toBeGreaterThan(0);
    secrets.push('sk_not_a_key_at_all');
  });
});

describe('the portal and restricted keys', () => {
  it('logs in with portal: read (a read-only session) or write (every capability); without portal, 403', async () => {
    const make = async (permissions: Record<string, string>) => {
      const k = (await (await app.request('/v1/api-keys', jsonRequest('POST', { name: 'p', permissions }, owner.apiKey))).json()) as {
        key: string;
      };
      secrets.push(k.key);
      return app.request(`${ORIGIN}/portal/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ apiKey: k.key }).toString(),
      });
    };
    expect((await make({ payments: 'write' })).status).toBe(403);
    expect((await make({ portal: 'read' })).status).toBe(303);
    expect((await make({ portal: 'write' })).status).toBe(303);
    const sessions = await db.sql<{ capabilities: string[] }[]>`
      select capabilities from gw.portal_sessions where merchant_id = ${owner.merchantId} and kind = 'session' order by created_at`;
    expect(sessions.map((s) => s.capabilities)).toEqual([['read'], ['read', 'manage_endpoints', 'replay', 'reviews']]);
  });
});

describe('gw.audit_log', () => {
  it('is append-only: UPDATE, DELETE and TRUNCATE are refused by the database', async () => {
    await expect(db.sql`update gw.audit_log set status = 200`).rejects.toThrow(/append-only/);
    await expect(db.sql`delete from gw.audit_log`).rejects.toThrow(/append-only/);
    await expect(db.sql`truncate gw.audit_log`).rejects.toThrow(/append-only/);
  });

  it('holds no secret any test here made (keys, signing secrets, tokens, the admin token)', async () => {
    expect(secrets.length).toBeGreaterThan(8);
    const [{ n }] = (await db.sql`select count(*)::int as n from gw.audit_log`) as unknown as [{ n: number }];
    expect(n).toBeGreaterThan(40);
    for (const secret of secrets) {
      const hits = await db.sql`select id from gw.audit_log a where strpos(a::text, ${secret}) > 0`;
      expect(hits, secret.slice(0, 6)).toEqual([]);
    }
  });
});

describe('GET /v1/audit-log and GET /admin/audit-log', () => {
  it('filters by object, operation, actor and time, pages with a cursor, and shows a merchant only its own rows', async () => {
    const get = async (query: string, key = owner.apiKey) => {
      const res = await call(app, key, 'GET', `/v1/audit-log${query}`);
      expect(res.status).toBe(200);
      return (await res.json()) as {
        data: { id: string; operation: string; objectIds: string[]; actor: { id: string | null } }[];
        hasMore: boolean;
      };
    };
    const byObject = await get(`?objectId=${owner.objects.ep}`);
    expect(byObject.data.length).toBeGreaterThan(0);
    for (const r of byObject.data) expect(r.objectIds).toContain(owner.objects.ep);
    const created = await get('?operation=postEndpoints');
    expect(created.data.every((r) => r.operation === 'postEndpoints')).toBe(true);
    const [key] = await db.sql<{ id: string }[]>`select id from gw.api_keys where merchant_id = ${owner.merchantId} and name is null`;
    const byActor = await get(`?actor=${key!.id}`);
    expect(byActor.data.length).toBeGreaterThan(5);
    expect(byActor.data.every((r) => r.actor.id === key!.id)).toBe(true);
    expect((await get(`?until=${new Date(Date.now() - 3_600_000).toISOString()}`)).data).toEqual([]);
    expect((await get(`?since=${new Date(Date.now() - 3_600_000).toISOString()}`)).data.length).toBeGreaterThan(0);

    const first = await get('?limit=2');
    expect(first.hasMore).toBe(true);
    const second = await get(`?limit=2&startingAfter=${first.data[1]!.id}`);
    expect(second.data[0]!.id < first.data[1]!.id).toBe(true);

    const stranger = await aMerchant(deps, 'Stranger');
    secrets.push(stranger.apiKey);
    expect((await get('', stranger.apiKey)).data).toEqual([]);
    expect((await get(`?objectId=${owner.objects.ep}`, stranger.apiKey)).data).toEqual([]);

    const admin = await app.request('/admin/audit-log?actor=admin', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(admin.status).toBe(200);
    const adminRows = (await admin.json()) as { data: { actor: { type: string } }[] };
    expect(adminRows.data.length).toBeGreaterThan(0);
    expect(adminRows.data.every((r) => r.actor.type === 'admin')).toBe(true);
    expect((await app.request('/admin/audit-log', { headers: { authorization: `Bearer ${owner.apiKey}` } })).status).toBe(401);
    expect((await call(app, (await restricted({ payments: 'read' })).key, 'GET', '/v1/audit-log')).status).toBe(403);
  });
});

async function restricted(permissions: Record<string, string>): Promise<{ key: string }> {
  const k = (await (await app.request('/v1/api-keys', jsonRequest('POST', { name: 'r', permissions }, owner.apiKey))).json()) as {
    key: string;
  };
  secrets.push(k.key);
  return k;
}
