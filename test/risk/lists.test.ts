// Risk lists: CRUD of lists and items, `list("alias")` in rules, reloaded when items change.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
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
});
