// A master key that does not open the database's secrets: start-up refuses (with the check
// row of sql/0015, and without it on a database from before), and a secret that still
// cannot be opened says so (SecretUnreadableError; 500 secret_unreadable on /v1; an error
// log from the delivery task). Real database, the gateway's own prepare().
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import type { Deps, Log } from '../../src/core/deps.js';
import { createSecretBox, generateMasterKey, SecretUnreadableError } from '../../src/core/secrets.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { prepare, startGateway, type Gateway } from '../../src/app/gateway.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { aMerchant, jsonRequest, quietLogger, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-master-key-'));
});
afterAll(async () => {
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const K1 = generateMasterKey();
const K2 = generateMasterKey();

/** The gateway's start-up on this file's database, no HTTP server or worker; `env` overrides. */
function start(env: Record<string, string>): Promise<Gateway> {
  const config = loadConfig({
    DATABASE_URL: db.url,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_ADMIN_TOKEN: 'adm_master_key_test_0123456789',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...env,
  });
  return startGateway(config, { http: false, withWorker: false, logger: quietLogger as never });
}

const checkRows = async () => (await db.sql<{ envelope: string }[]>`select envelope from gw.master_key_check`).map((r) => r.envelope);

/** A logger that keeps its error lines (message and fields). */
function recordingLogger(): Log & { errors: { obj: object; msg: string | undefined }[] } {
  const errors: { obj: object; msg: string | undefined }[] = [];
  const log = {
    errors,
    info() {},
    warn() {},
    debug() {},
    error(obj: object, msg?: string) {
      errors.push({ obj, msg });
    },
    child: () => log,
  };
  return log;
}

describe('start-up with the master key', () => {
  it('refuses a different SWITCHYARD_MASTER_KEY after a restart, and starts again with the right one', async () => {
    const first = await start({ SWITCHYARD_MASTER_KEY: K1 });
    try {
      const merchant = await aMerchant(first.deps);
      const res = await testApp(first.deps).request(
        '/v1/sources',
        jsonRequest('POST', { provider: 'stripe', secret: `whsec_${randomBytes(24).toString('hex')}` }, merchant.apiKey),
      );
      expect(res.status).toBe(201);
    } finally {
      await first.stop();
    }
    const [check] = await checkRows();
    expect(await (await createSecretBox(K1)).decrypt(check!)).toBeTypeOf('string');

    await expect(start({ SWITCHYARD_MASTER_KEY: K2 })).rejects.toThrow(
      /SWITCHYARD_MASTER_KEY cannot open the secrets stored in this database/,
    );

    const again = await start({ SWITCHYARD_MASTER_KEY: K1 });
    await again.stop();
    expect(await checkRows()).toEqual([check]);
  });

  it('names the key file in development, when SWITCHYARD_MASTER_KEY is unset', async () => {
    writeFileSync(path.join(dataDir, 'master.key'), `${K2}\n`, { mode: 0o600 });
    const refused = start({ NODE_ENV: 'development' });
    await expect(refused).rejects.toThrow(
      `the master key in ${dataDir}/master.key (used because SWITCHYARD_MASTER_KEY is unset) cannot open`,
    );
  });

  it('checks a database without the check row against a stored secret, then writes the row', async () => {
    await db.sql`delete from gw.master_key_check`;
    await expect(start({ SWITCHYARD_MASTER_KEY: K2 })).rejects.toThrow(/SWITCHYARD_MASTER_KEY cannot open/);
    expect(await checkRows()).toEqual([]);

    const right = await start({ SWITCHYARD_MASTER_KEY: K1 });
    await right.stop();
    const rows = await checkRows();
    expect(rows).toHaveLength(1);
    await expect((await createSecretBox(K1)).decrypt(rows[0]!)).resolves.toBeTypeOf('string');
    await expect((await createSecretBox(K2)).decrypt(rows[0]!)).rejects.toBeInstanceOf(SecretUnreadableError);
  });

  it('lets migrate run with any key, and never seals the check value with it (migrate opens no secret)', async () => {
    const config = loadConfig({
      DATABASE_URL: db.url,
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_MASTER_KEY: K2,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
    });
    const before = await checkRows();
    const migrated = await prepare(config, quietLogger as never, { checkMasterKey: false });
    await migrated.sql.end();
    await migrated.deps.dispatcher?.close();
    expect(await checkRows()).toEqual(before);

    await db.sql`delete from gw.master_key_check`;
    const fresh = await prepare(config, quietLogger as never, { checkMasterKey: false });
    await fresh.sql.end();
    await fresh.deps.dispatcher?.close();
    expect(await checkRows()).toEqual([]);
    const right = await start({ SWITCHYARD_MASTER_KEY: K1 });
    await right.stop();
    expect(await checkRows()).toHaveLength(1);
  });
});

describe('a secret the master key cannot open', () => {
  it('is a SecretUnreadableError naming SWITCHYARD_MASTER_KEY, for another key or a malformed envelope', async () => {
    const sealed = await (await createSecretBox(K1)).encrypt('whsec_x');
    const other = await createSecretBox(K2);
    const wrongKey = await other.decrypt(sealed).catch((e: unknown) => e);
    expect(wrongKey).toBeInstanceOf(SecretUnreadableError);
    expect((wrongKey as Error).message).toMatch(/SWITCHYARD_MASTER_KEY/);
    expect((wrongKey as Error).cause).toBeDefined(); // Web Crypto's OperationError, for logs
    for (const bad of ['', 'v1.', 'v2.AAAA.AAAA', 'v1.not base64.AAAA', sealed.replace(/\.[^.]*$/, '.')]) {
      await expect(other.decrypt(bad), bad).rejects.toBeInstanceOf(SecretUnreadableError);
    }
  });

  it('answers GET /v1/endpoints/{id}/secret with 500 secret_unreadable problem+json, and logs it', async () => {
    const deps = await testDeps(db);
    const merchant = await aMerchant(deps);
    const created = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:9/hook' }, merchant.apiKey));
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string };

    const logger = recordingLogger();
    const app = testApp({ ...deps, logger, secretBox: await createSecretBox(generateMasterKey()) });
    const res = await app.request(`/v1/endpoints/${endpoint.id}/secret`, { headers: { authorization: `Bearer ${merchant.apiKey}` } });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({
      status: 500,
      code: 'secret_unreadable',
      detail: expect.stringMatching(/SWITCHYARD_MASTER_KEY/),
    });
    expect(text).not.toMatch(/stack|OperationError|\bat \S+ \(/);
    expect(logger.errors.some((e) => /SWITCHYARD_MASTER_KEY/.test(e.msg ?? ''))).toBe(true);
  });

  it('fails a delivery with an error log naming SWITCHYARD_MASTER_KEY, not a bare OperationError', async () => {
    const deps = await testDeps(db);
    const merchant = await aMerchant(deps);
    const created = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:9/hook' }, merchant.apiKey));
    expect(created.status).toBe(201);
    const endpoint = (await created.json()) as { id: string };
    const e = await emitEvent(db.sql, {
      merchantId: merchant.id,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: 'master-key',
      data: {},
      at: new Date(),
    });
    const [message] = await db.sql<{ id: string }[]>`
      select id from gw.messages where id = any(${e!.messageIds}::text[]) and endpoint_id = ${endpoint.id}`;

    const logger = recordingLogger();
    const worker: Deps = { ...deps, logger, secretBox: await createSecretBox(generateMasterKey()) };
    await expect(deliverMessage(worker, { messageId: message!.id, attempt: 1 })).rejects.toBeInstanceOf(SecretUnreadableError);
    expect(logger.errors).toContainEqual({
      obj: expect.objectContaining({ endpointId: endpoint.id }),
      msg: expect.stringMatching(/SWITCHYARD_MASTER_KEY/),
    });
  });

  it('answers inbound with 500 secret_unreadable and one error line when no secret of the source opens; a readable one still verifies during a rotation', async () => {
    const deps = await testDeps(db);
    const merchant = await aMerchant(deps);
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const created = await testApp(deps).request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret }, merchant.apiKey));
    expect(created.status).toBe(201);
    const source = (await created.json()) as { id: string };
    const event = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { amount: 700 }));
    const post = async (app: ReturnType<typeof testApp>, signWith: string) =>
      app.request(`/inbound/${source.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(event, signWith, new Date()) },
        body: event,
      });

    const logger = recordingLogger();
    const otherKey = await createSecretBox(generateMasterKey());
    const res = await post(testApp({ ...deps, logger, secretBox: otherKey }), secret);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: 'secret_unreadable', detail: expect.stringMatching(/SWITCHYARD_MASTER_KEY/) });
    expect(logger.errors).toHaveLength(1);
    expect(JSON.stringify(logger.errors[0])).toMatch(/SWITCHYARD_MASTER_KEY/);

    // Rotated under the other key: the old secret (sealed under the first) no longer opens, the new one does.
    const rotatedSecret = 'whsec_Q2hhbmdlTWVQbGVhc2VOZXdTZWNyZXQxMjM0';
    const rotating = testApp({ ...deps, secretBox: otherKey });
    const rotated = await rotating.request(
      `/v1/sources/${source.id}/secrets`,
      jsonRequest('POST', { secret: rotatedSecret }, merchant.apiKey),
    );
    expect(rotated.status).toBe(200);
    const rotationLog = recordingLogger();
    const ok = await post(testApp({ ...deps, logger: rotationLog, secretBox: otherKey }), rotatedSecret);
    expect(ok.status).toBe(200);
    expect(rotationLog.errors.map((e) => e.msg)).toEqual(['source secret cannot be opened; verifying with the others']);
  });
});
