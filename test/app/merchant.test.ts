// GET /v1/merchant: the merchant an API key belongs to (issue #16 item 4), so the id the CLI's
// `ledger check --merchant` wants needs no psql.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, testApp, testDeps } from '../app.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
});
afterAll(async () => db.drop());

const get = (key?: string): Promise<Response> =>
  Promise.resolve(app.request('/v1/merchant', key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } }));

describe('GET /v1/merchant', () => {
  it("answers the key's merchant and the key used (its prefix, never the key)", async () => {
    const acme = await aMerchant(deps, 'Acme');
    const globex = await aMerchant(deps, 'Globex');
    const res = await get(acme.apiKey);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      id: string;
      name: string;
      createdAt: string;
      apiKey: { id: string; prefix: string; createdAt: string };
    };
    expect(body).toEqual({
      id: acme.id,
      name: 'Acme',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      apiKey: { id: expect.stringMatching(/^key_[0-9a-f]{32}$/), prefix: acme.apiKey.slice(0, 7), createdAt: expect.any(String) },
    });
    expect(JSON.stringify(body)).not.toContain(acme.apiKey);
    expect(((await (await get(globex.apiKey)).json()) as { id: string }).id).toBe(globex.id);
  });

  it('is 401 unauthorized without a key, with a wrong one, and with a revoked one', async () => {
    const m = await aMerchant(deps, 'Revoked Ltd');
    await db.sql`update gw.api_keys set revoked_at = now() where merchant_id = ${m.id}`;
    for (const res of [await get(), await get('sk_wrong'), await get(m.apiKey)]) {
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('unauthorized');
    }
  });
});
