// Risk lists: CRUD of lists and items, `list("alias")` in rules, reloaded when items change.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { RiskRuleCache } from '../../src/core/risk/assess.js';
import { stripeSimulator } from '../../src/dev/simulators/index.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { jsonRequest, testDeps } from '../app.js';
import { aShop, apps, command, STRIPE_BASE, type Shop } from '../payments-api/harness.js';

const SECRET = 'whsec_risk_lists_0123456789abcdef';
const SK = 'sk_test_simulated_lists_0123456789';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof apps>['app'];
let commands: ReturnType<typeof apps>['commands'];
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  ({ app, commands } = apps(deps));
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  await db.drop();
});

const call = async (shop: Shop, method: string, path: string, body?: unknown) => {
  const res = await app.request(
    path,
    body === undefined ? { method, headers: { authorization: `Bearer ${shop.apiKey}` } } : jsonRequest(method, body, shop.apiKey),
  );
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, any>) };
};

describe('risk lists', () => {
  it('creates lists and items; a rule reading list("alias") blocks what is on it, and stops once it is removed', async () => {
    const shop = await aShop(deps, app, { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
    const sim = stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: SK });
    server.use(...sim.handlers);

    const builtIn = await call(shop, 'GET', '/v1/risk/lists');
    expect(builtIn.body!.data.map((l: { alias: string }) => l.alias).sort()).toEqual(['blocked_cards', 'blocked_customers']);

    const created = await call(shop, 'POST', '/v1/risk/lists', { alias: 'blocked_domains', itemType: 'email_domain' });
    expect(created).toMatchObject({ status: 201, body: { alias: 'blocked_domains', itemType: 'email_domain', builtIn: null } });
    expect(created.body!.id).toMatch(/^rsl_[0-9a-f]{32}$/);
    expect(await call(shop, 'POST', '/v1/risk/lists', { alias: 'blocked_domains', itemType: 'email' })).toMatchObject({
      status: 409,
      body: { code: 'conflict' },
    });
    expect(await call(shop, 'POST', '/v1/risk/lists', { alias: 'Bad Alias', itemType: 'email' })).toMatchObject({ status: 400 });
    const id = created.body!.id as string;
    expect(await call(shop, 'POST', `/v1/risk/lists/${id}/items`, { value: 'not a domain' })).toMatchObject({
      status: 400,
      body: { code: 'invalid_request' },
    });
    expect(await call(shop, 'POST', `/v1/risk/lists/${id}/items`, { value: 'Fraud.TEST' })).toMatchObject({
      status: 201,
      body: { value: 'fraud.test', addedBy: 'api' },
    });
    expect(await call(shop, 'GET', `/v1/risk/lists/${id}/items`)).toMatchObject({
      status: 200,
      body: { data: [{ value: 'fraud.test' }], hasMore: false },
    });

    const rule = await call(shop, 'POST', '/v1/risk/rules', {
      name: 'Blocked domains',
      action: 'block',
      expression: 'customer.email_domain in list("blocked_domains")',
    });
    expect(rule.status).toBe(201);
    const pay = (key: string) =>
      commands.request(
        '/v1/payments',
        command(shop, key, {
          amount: 2000,
          currency: 'usd',
          sourceId: shop.sourceId,
          merchantReference: key,
          customer: { email: 'eve@fraud.test' },
        }),
      );
    const blocked = await pay('l-1');
    expect(blocked.status).toBe(402);
    expect(await blocked.json()).toMatchObject({ rule: { id: rule.body!.id, name: 'Blocked domains' } });

    expect((await call(shop, 'DELETE', `/v1/risk/lists/${id}/items/fraud.test`)).status).toBe(204);
    expect((await call(shop, 'DELETE', `/v1/risk/lists/${id}/items/fraud.test`)).status).toBe(404);
    expect((await pay('l-2')).status).toBe(201);

    const other = await aShop(deps, app, { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
    expect((await call(other, 'GET', `/v1/risk/lists/${id}`)).status).toBe(404);
  });

  it('looks memberships up by index when the lists are larger than the cache keeps, and decides the same', async () => {
    const shop = await aShop(deps, app, { provider: 'stripe', secret: SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
    const sim = stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: SK });
    server.use(...sim.handlers);
    const list = await call(shop, 'POST', '/v1/risk/lists', { alias: 'bad_emails', itemType: 'email' });
    for (const value of ['a@x.test', 'b@x.test', 'c@x.test', 'eve@x.test']) {
      expect((await call(shop, 'POST', `/v1/risk/lists/${list.body!.id}/items`, { value })).status).toBe(201);
    }
    await call(shop, 'POST', '/v1/risk/rules', {
      name: 'Bad e-mails',
      action: 'block',
      expression: 'customer.email in list("bad_emails")',
    });
    // at most 2 items kept in memory: this merchant's 4 are looked up per payment
    const small = new RiskRuleCache(10, 100, 2);
    const lookedUp = apps({ ...deps, riskRules: small }).commands;
    const pay = (via: typeof commands, key: string, email: string) =>
      via.request(
        '/v1/payments',
        command(shop, key, { amount: 2000, currency: 'usd', sourceId: shop.sourceId, merchantReference: key, customer: { email } }),
      );
    const sets = () => (small as unknown as { sets: Map<string, { lists?: unknown; listProbes?: unknown }> }).sets;
    expect((await pay(lookedUp, 'big-1', 'eve@x.test')).status).toBe(402);
    expect(sets().get(shop.merchantId)!.listProbes).toEqual(
      expect.arrayContaining([
        { alias: 'bad_emails', path: ['customer', 'email'] },
        { alias: 'blocked_cards', path: ['card', 'fingerprint'] },
      ]),
    );
    expect(sets().get(shop.merchantId)!.lists).toBeUndefined();
    expect((await pay(lookedUp, 'big-2', 'good@x.test')).status).toBe(201);
    // the default cache keeps the lists whole and decides the same
    expect((await pay(commands, 'big-3', 'eve@x.test')).status).toBe(402);
    expect((await pay(commands, 'big-4', 'good@x.test')).status).toBe(201);
    // a rule using a list otherwise than `attribute in list()`: the lists are kept whole, however large
    await call(shop, 'POST', '/v1/risk/rules', {
      name: 'Many bad e-mails',
      action: 'review',
      expression: 'size(list("bad_emails")) > 100 && amount > 0',
    });
    expect((await pay(lookedUp, 'big-5', 'eve@x.test')).status).toBe(402);
    const whole = sets().get(shop.merchantId)!;
    expect(whole.listProbes).toBeUndefined();
    expect((whole.lists as Map<string, string[]>).get('bad_emails')!.sort()).toEqual(['a@x.test', 'b@x.test', 'c@x.test', 'eve@x.test']);
  });
});
