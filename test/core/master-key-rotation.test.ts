// Master key rotation (README "Rotating the master key"): envelopes name their key, SWITCHYARD_MASTER_KEY lists
// several, and `switchyard keys reencrypt`, killed halfway and run again, leaves every secret readable by the new key.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { checkMasterKey } from '../../src/core/master-key.js';
import { ENVELOPE_COLUMNS } from '../../src/core/master-key-store.js';
import { createSecretBox, generateMasterKey, SecretUnreadableError, type SecretBox } from '../../src/core/secrets.js';
import { enableEd25519Signing } from '../../src/outbound/endpoints/endpoint-ed25519.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const OLD = generateMasterKey();
const NEW = generateMasterKey();
const SOURCES = 12;
const ENDPOINTS = 6;

let db: TestDatabase;
let deps: Deps;
let oldBox: SecretBox;
const sourceSecrets: { id: string; secret: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  oldBox = await createSecretBox(OLD);
  deps = { ...(await testDeps(db)), secretBox: oldBox };
  await checkMasterKey(db.sql, oldBox, undefined);
  const app = testApp(deps);
  const merchant = await aMerchant(deps);
  for (let i = 0; i < SOURCES; i++) {
    const secret = `whsec_rotation_${i}_${'abcdefghijklmnopqrstuvwxyz'.slice(i)}0123456789`;
    const res = await app.request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'stripe', secret, apiKey: `sk_test_rotation_${i}_0123456789` }, merchant.apiKey),
    );
    expect(res.status).toBe(201);
    sourceSecrets.push({ id: ((await res.json()) as { id: string }).id, secret });
  }
  for (let i = 0; i < ENDPOINTS; i++) {
    const res = await app.request(
      '/v1/endpoints',
      jsonRequest(
        'POST',
        {
          url: `http://127.0.0.1:9/hook-${i}`,
          headers: [
            { name: 'X-Api-Key', value: `header-secret-${i}`, secret: true },
            { name: 'X-Plain', value: 'in clear' },
          ],
          auth: { type: 'basic', username: `user${i}`, password: `password-${i}` },
        },
        merchant.apiKey,
      ),
    );
    expect(res.status).toBe(201);
    await enableEd25519Signing(db.sql, oldBox, ((await res.json()) as { id: string }).id);
  }
});
afterAll(async () => db.drop());

/** Every envelope stored, wherever it is (the columns and the JSON of endpoint headers and auth). */
async function allEnvelopes(): Promise<string[]> {
  const rows = await db.sql<{ e: string }[]>`
    select envelope as e from gw.master_key_check
    union all select ciphertext from gw.source_secrets
    union all select api_key_ciphertext from gw.sources where api_key_ciphertext is not null
    union all select ciphertext from gw.endpoint_secrets
    union all select ed25519_private_envelope from gw.endpoints where ed25519_private_envelope is not null
    union all select h ->> 'envelope' from gw.endpoints, jsonb_array_elements(headers) h where h ? 'envelope'
    union all select auth ->> 'passwordEnvelope' from gw.endpoints where auth is not null`;
  return rows.map((r) => r.e);
}

/** Runs `switchyard keys reencrypt …args` as its own Node process; `killAfterProgress` SIGKILLs it after that many progress lines. */
function reencrypt(
  args: string[],
  killAfterProgress?: number,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/cli/index.ts', 'keys', 'reencrypt', ...args], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: db.url,
        SWITCHYARD_MASTER_KEY: `${NEW},${OLD}`,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (killAfterProgress !== undefined && (stdout.match(/^re-sealed /gm)?.length ?? 0) >= killAfterProgress) child.kill('SIGKILL');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('master key rotation', () => {
  it('seals with the first key, names it in the envelope, and opens with any listed key', async () => {
    const both = await createSecretBox(`${NEW},${OLD}`);
    const sealed = await both.encrypt('whsec_x');
    expect(sealed.startsWith(`v2.${both.keyId}.`)).toBe(true);
    expect(both.sealedWithCurrentKey(sealed)).toBe(true);
    expect(await (await createSecretBox(NEW)).decrypt(sealed)).toBe('whsec_x');
    await expect(oldBox.decrypt(sealed)).rejects.toBeInstanceOf(SecretUnreadableError);
    expect(await both.decrypt(await oldBox.encrypt('old'))).toBe('old');
    const named = await createSecretBox(`2027-01:${NEW}, 2026-01:${OLD}`);
    expect(named.keyId).toBe('2027-01');
    expect(await named.decrypt(await oldBox.encrypt('named'))).toBe('named'); // a key listed under a new id still opens what it sealed
    await expect(createSecretBox(`${NEW},${NEW}`)).rejects.toThrow(/twice/);
  });

  it('knows every column named for an envelope or ciphertext (a new one must be re-sealed too)', async () => {
    const columns = await db.sql<{ c: string }[]>`
      select table_schema || '.' || table_name || '.' || column_name as c from information_schema.columns
       where table_schema = 'gw' and (column_name like '%envelope%' or column_name like '%ciphertext%')`;
    expect(columns.map((r) => r.c).sort()).toEqual(
      [...ENVELOPE_COLUMNS.map((c) => `${c.table}.${c.column}`), 'gw.master_key_check.envelope'].sort(),
    );
  });

  it('re-encryption SIGKILLed halfway and run again leaves every secret readable with only the new key', async () => {
    const before = await allEnvelopes();
    expect(before.length).toBe(1 + SOURCES * 2 + ENDPOINTS * 4);
    const plain = new Map<string, string>();
    for (const e of before) plain.set(e, await oldBox.decrypt(e));

    const killed = await reencrypt(['--batch-size', '2', '--pause-ms', '300'], 2);
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect(killed.stdout).toMatch(/^re-sealed \d+\/\d+ secrets with key \w+ \(/m);
    const newOnly = await createSecretBox(NEW);
    const halfway = await allEnvelopes();
    const moved = halfway.filter((e) => newOnly.sealedWithCurrentKey(e)).length;
    expect(moved, killed.stdout + killed.stderr).toBeGreaterThan(0);
    expect(moved).toBeLessThan(halfway.length);

    const finished = await reencrypt(['--batch-size', '3']);
    expect(finished.stderr).toBe('');
    expect(finished.code).toBe(0);
    expect(finished.stdout).toMatch(new RegExp(`^done: re-sealed ${halfway.length - moved}/${halfway.length - moved} secrets`, 'm'));

    const after = await allEnvelopes();
    expect(after.length).toBe(before.length);
    const opened = await Promise.all(after.map((e) => newOnly.decrypt(e)));
    expect(opened.sort()).toEqual([...plain.values()].sort());
    await expect(checkMasterKey(db.sql, newOnly, undefined)).resolves.toBeUndefined();
    await expect(checkMasterKey(db.sql, oldBox, undefined)).rejects.toThrow(/SWITCHYARD_MASTER_KEY cannot open/);

    // The gateway on the new key alone verifies a source's events.
    const app = testApp({ ...(await testDeps(db)), secretBox: newOnly });
    const { id, secret } = sourceSecrets[0]!;
    const body = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { amount: 100, at: new Date() }));
    const res = await app.request(`/inbound/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, secret, new Date()) },
      body,
    });
    expect(res.status).toBe(200);

    // A third run finds nothing left to do.
    const again = await reencrypt([]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^done: re-sealed 0\/0 secrets/m);
  });
});
