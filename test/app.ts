// Test seams: a real app on a real (per-file) database, with a fixed or system clock.
import { systemClock, type Clock } from '../src/core/clock.js';
import { loadConfig, type Config } from '../src/core/config.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../src/core/auth/api-keys.js';
import { createApp, type AppDeps } from '../src/app/http.js';
import type { Deps, Log } from '../src/core/deps.js';
import { insertMerchant } from '../src/core/merchants/merchant-store.js';
import { createSecretBox, generateMasterKey } from '../src/core/secrets.js';
import { checkEndpointUrl } from '../src/outbound/ssrf.js';
import { RiskRuleCache } from '../src/core/risk/assess.js';
import type { TestDatabase } from './db.js';

/** The admin token every test app accepts. */
export const TEST_ADMIN_TOKEN = 'adm_test_token_0123456789';

/** A logger that drops everything (tests assert on behaviour, not log lines). */
export const quietLogger: Log = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return quietLogger;
  },
};

/**
 * Deps on a test database: private URLs allowed, a short retry schedule unless overridden;
 * the real SSRF check of merchant URLs (`checkOutboundUrl`), and no `pspFetch`: PSP calls
 * use the global fetch, which msw intercepts.
 */
export async function testDeps(
  db: TestDatabase,
  overrides: { clock?: Clock; env?: Record<string, string>; logger?: Log } = {},
): Promise<Deps> {
  const config: Config = loadConfig({
    DATABASE_URL: db.url,
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    SWITCHYARD_RETRY_SCHEDULE: '1,1,1',
    SWITCHYARD_DELIVERY_TIMEOUT_MS: '2000',
    NODE_ENV: 'test',
    ...overrides.env,
  });
  return {
    sql: db.sql,
    config,
    clock: overrides.clock ?? systemClock,
    logger: overrides.logger ?? quietLogger,
    secretBox: await createSecretBox(generateMasterKey()),
    adminToken: TEST_ADMIN_TOKEN,
    checkOutboundUrl: checkEndpointUrl,
    riskRules: new RiskRuleCache(),
  };
}

/** An app on `deps`; call it with `app.request(path, init)`. */
export function testApp(deps: AppDeps) {
  return createApp(deps);
}

/** Inserts a merchant with an API key; returns both (the key in clear, as a client holds it). */
export async function aMerchant(deps: Deps, name = 'Acme'): Promise<{ id: string; apiKey: string }> {
  const apiKey = generateApiKey();
  const m = await insertMerchant(deps.sql, { name, apiKeyHash: await hashApiKey(apiKey), apiKeyPrefix: apiKeyPrefix(apiKey) });
  return { id: m.id, apiKey };
}

/** JSON request helper for `app.request`. */
export function jsonRequest(method: string, body: unknown, apiKey?: string): RequestInit {
  return {
    method,
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
  };
}
