// Risk rules CRUD: CEL validation at creation, versions, the built-in duplicate rule, the database invariants.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
});
afterAll(async () => {
  await db.drop();
});

const call = async (apiKey: string, method: string, path: string, body?: unknown) => {
  const res = await app.request(
    path,
    body === undefined ? { method, headers: { authorization: `Bearer ${apiKey}` } } : jsonRequest(method, body, apiKey),
  );
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, any>) };
};

describe('risk rules', () => {
  it('creates, lists, changes (a new version) and deletes a rule; another merchant sees none of it', async () => {
    const m = await aMerchant(deps, 'Rules');
    const created = await call(m.apiKey, 'POST', '/v1/risk/rules', {
      name: 'High value abroad',
      action: 'review',
      expression: 'amount > 500000 && card.country != "US"',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ action: 'review', enabled: true, priority: 0, version: 1, builtIn: null });
    expect(created.body!.id).toMatch(/^rul_[0-9a-f]{32}$/);
    const id = created.body!.id as string;

    const list = await call(m.apiKey, 'GET', '/v1/risk/rules');
    expect(list.body!.data.map((r: { name: string }) => r.name).sort()).toEqual([
      'Blocked card or customer',
      'High value abroad',
      'Possible duplicate payment',
    ]);

    const patched = await call(m.apiKey, 'PATCH', `/v1/risk/rules/${id}`, { action: 'block', priority: -5 });
    expect(patched).toMatchObject({
      status: 200,
      body: { action: 'block', priority: -5, version: 2, expression: 'amount > 500000 && card.country != "US"' },
    });

    const other = await aMerchant(deps, 'Other');
    expect((await call(other.apiKey, 'GET', `/v1/risk/rules/${id}`)).status).toBe(404);
    expect((await call(other.apiKey, 'PATCH', `/v1/risk/rules/${id}`, { enabled: false })).status).toBe(404);
    expect((await call(other.apiKey, 'DELETE', `/v1/risk/rules/${id}`)).status).toBe(404);

    expect((await call(m.apiKey, 'DELETE', `/v1/risk/rules/${id}`)).status).toBe(204);
    expect((await call(m.apiKey, 'GET', `/v1/risk/rules/${id}`)).status).toBe(404);
    const versions = await db.sql<{ version: number; action: string; deleted: boolean }[]>`
      select version, action, deleted from gw.risk_rule_versions where rule_id = ${id} order by version`;
    expect(versions).toEqual([
      { version: 1, action: 'review', deleted: false },
      { version: 2, action: 'block', deleted: false },
      { version: 3, action: 'block', deleted: true },
    ]);
  });

  it('gives every merchant the editable built-in duplicate and block-list rules', async () => {
    const m = await aMerchant(deps, 'Defaults');
    const list = await call(m.apiKey, 'GET', '/v1/risk/rules');
    expect(list.body!.data).toHaveLength(2);
    expect(list.body!.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'Possible duplicate payment',
          action: 'review',
          expression: 'duplicates_24h > 0',
          builtIn: 'duplicate_payment',
          enabled: true,
        }),
        expect.objectContaining({ name: 'Blocked card or customer', action: 'block', builtIn: 'block_lists', enabled: true }),
      ]),
    );
    const id = list.body!.data.find((r: { builtIn: string }) => r.builtIn === 'duplicate_payment').id as string;
    expect(await call(m.apiKey, 'PATCH', `/v1/risk/rules/${id}`, { action: 'block' })).toMatchObject({
      status: 200,
      body: { action: 'block', version: 2 },
    });
  });

  it('refuses a bad expression with 400 invalid_rule naming the position and the reason', async () => {
    const m = await aMerchant(deps, 'Bad');
    const cases: [string, number, string][] = [
      ['amount >', 8, 'Unexpected token: EOF'],
      ['card.brand == "visa"', 5, 'No such key: brand'],
      ['customer_tier == "gold"', 0, 'Unknown variable: customer_tier'],
      ['amount == "100"', 0, 'no such overload: int == string'],
      ['amount', 0, 'the expression must yield bool, not int'],
      ['metadata.constructor == "x"', 9, 'the field name constructor is not allowed'],
      ['process.env.HOME != ""', 0, 'Unknown variable: process'],
    ];
    for (const [expression, position, reason] of cases) {
      const res = await call(m.apiKey, 'POST', '/v1/risk/rules', { name: 'x', action: 'block', expression });
      expect(res, expression).toMatchObject({
        status: 400,
        body: {
          code: 'invalid_rule',
          detail: `The expression is invalid at position ${position}: ${reason}.`,
          errors: [{ path: ['expression', position], message: reason }],
        },
      });
    }
    const rule = await call(m.apiKey, 'POST', '/v1/risk/rules', {
      name: 'ok',
      action: 'allow',
      expression: 'customer.email_domain == "example.com"',
    });
    expect((await call(m.apiKey, 'PATCH', `/v1/risk/rules/${rule.body!.id}`, { expression: 'card.nope' })).body).toMatchObject({
      code: 'invalid_rule',
    });
    expect((await call(m.apiKey, 'POST', '/v1/risk/rules', { name: 'x', action: 'deny', expression: 'true' })).body).toMatchObject({
      code: 'invalid_request',
    });
    expect((await call(m.apiKey, 'PATCH', `/v1/risk/rules/${rule.body!.id}`, {})).body).toMatchObject({ code: 'invalid_request' });
  });

  it('keeps rule versions, decisions and facts append-only and rules undeletable in the database', async () => {
    const m = await aMerchant(deps, 'Invariants');
    const [rule] = await db.sql<{ id: string }[]>`select id from gw.risk_rules where merchant_id = ${m.id} limit 1`;
    await expect(db.sql`delete from gw.risk_rules where id = ${rule!.id}`).rejects.toMatchObject({ code: '23001' });
    await expect(db.sql`update gw.risk_rule_versions set action = 'allow' where rule_id = ${rule!.id}`).rejects.toMatchObject({
      code: '23001',
    });
    await expect(db.sql`update gw.risk_rules set version = version + 2 where id = ${rule!.id}`).rejects.toMatchObject({ code: '23514' });
    await expect(db.sql`truncate gw.risk_decisions`).rejects.toBeTruthy();
  });
});
