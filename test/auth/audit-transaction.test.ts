// The audit middleware's transaction on a route of the test's own: what a failed route wrote is rolled back and its
// row written apart; a route's own `begin` nests as a savepoint in the request's transaction.
import { Hono } from 'hono';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditTrail } from '../../src/app/audit.js';
import type { AppEnv, Deps } from '../../src/core/deps.js';
import { AppError } from '../../src/core/errors.js';
import { onError } from '../../src/core/http/problem.js';
import { requestContext } from '../../src/core/http/request-context.js';
import { RouteTable } from '../../src/core/http/route-table.js';
import { newId } from '../../src/core/ids.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { testDeps } from '../app.js';

let db: TestDatabase;
let deps: Deps;
let app: Hono<AppEnv>;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  const routes = new RouteTable();
  routes.add({ operationId: 'makeMerchant', method: 'POST', path: '/v1/test/:name', permission: undefined, audit: 'request' });
  app = new Hono<AppEnv>();
  app.use(
    '*',
    requestContext(() => deps),
  );
  app.onError(onError);
  app.use('/v1/*', auditTrail(routes));
  // Writes a merchant in a nested transaction, then fails when asked to: the write must not survive.
  app.post('/v1/test/:name', async (c) => {
    const id = newId('mch');
    await c.var.deps.sql.begin((tx) => tx`insert into gw.merchants (id, name) values (${id}, ${c.req.param('name')})`);
    if (c.req.query('fail') === '1') throw new AppError('conflict', 409, 'Refused after writing.');
    return c.json({ id }, 201);
  });
});
afterAll(async () => db.drop());

it('rolls back what a refused request wrote and still records it; a committed one commits with its row', async () => {
  const refused = await app.request('/v1/test/ghost?fail=1', { method: 'POST', headers: { 'x-request-id': 'req_tx_refused' } });
  expect(refused.status).toBe(409);
  expect(await db.sql`select id from gw.merchants where name = 'ghost'`).toEqual([]);
  expect(await db.sql`select operation, status from gw.audit_log where request_id = 'req_tx_refused'`).toEqual([
    { operation: 'makeMerchant', status: 409 },
  ]);

  const done = await app.request('/v1/test/real', { method: 'POST', headers: { 'x-request-id': 'req_tx_done' } });
  expect(done.status).toBe(201);
  const { id } = (await done.json()) as { id: string };
  const [merchant] = await db.sql<{ xmin: string }[]>`select xmin from gw.merchants where id = ${id}`;
  const [row] = await db.sql<{ xmin: string; object_ids: string[] }[]>`
    select xmin, object_ids from gw.audit_log where request_id = 'req_tx_done'`;
  expect(row!.object_ids).toEqual([id]);
  expect(row!.xmin).toBe(merchant!.xmin);
});
