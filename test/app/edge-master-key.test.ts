// The Workers entry (src/app/edge.ts) refuses to serve with a master key that is missing, malformed, or cannot open
// the secrets in its database, as `switchyard serve` refuses to start (README "Deploy to Cloudflare Workers"). Its
// default export runs here in Node, on this file's database as its Hyperdrive connection string.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import edge from '../../src/app/edge.js';
import { checkMasterKey } from '../../src/core/master-key.js';
import { createSecretBox, generateMasterKey } from '../../src/core/secrets.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
const sealingKey = generateMasterKey();
const closing: Promise<unknown>[] = [];
const ctx = { waitUntil: (p: Promise<unknown>) => void closing.push(p) };

beforeAll(async () => {
  db = await createTestDatabase();
  // The Node service ran on this database first: the check value is sealed under its key.
  await checkMasterKey(db.sql, await createSecretBox(sealingKey), undefined);
});
afterEach(async () => {
  await Promise.all(closing.splice(0));
  vi.restoreAllMocks();
});
afterAll(async () => db.drop());

/** A fresh Worker env (a new isolate, as far as the entry's per-isolate caches go). */
function envWith(masterKey: string | undefined) {
  return {
    HYPERDRIVE: { connectionString: db.url },
    LOG_LEVEL: 'error',
    ...(masterKey === undefined ? {} : { SWITCHYARD_MASTER_KEY: masterKey }),
  };
}

async function healthz(env: ReturnType<typeof envWith>): Promise<Response> {
  return edge.fetch(new Request('http://edge.test/healthz'), env, ctx);
}

describe('the Workers entry and the master key', () => {
  it('serves with the key the database was sealed with, checking it once per isolate', async () => {
    const env = envWith(sealingKey);
    expect((await healthz(env)).status).toBe(200);
    expect((await healthz(env)).status).toBe(200);
  });

  it('refuses every request, 500 internal_error, with a key that cannot open the stored secrets, and logs why', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const env = envWith(generateMasterKey());
    for (const path of ['/healthz', '/inbound/src_0193a1b2c3d4e5f60718293a4b5c0000']) {
      const res = await edge.fetch(new Request(`http://edge.test${path}`, { method: path === '/healthz' ? 'GET' : 'POST' }), env, ctx);
      expect(res.status, path).toBe(500);
      expect(await res.json()).toMatchObject({ code: 'internal_error' });
    }
    const logged = errors.mock.calls.map((c) => String(c[0])).join('\n');
    expect(logged).toContain('edge refuses to serve: the master key check failed');
    expect(logged).toContain('SWITCHYARD_MASTER_KEY cannot open the secrets stored in this database');
    expect(logged).not.toContain(sealingKey);
  });

  it('refuses every request with no key or a malformed one, before touching the database', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect((await healthz(envWith(undefined))).status).toBe(500);
    expect((await healthz(envWith('not-a-key'))).status).toBe(500);
    expect(errors.mock.calls.map((c) => String(c[0])).join('\n')).toContain('SWITCHYARD_MASTER_KEY is not set');
  });
});
