// Optional `v1a` (Ed25519) signing per endpoint (src/outbound/endpoints/endpoint-ed25519.ts,
// sql/0012_endpoint_options.sql): deliveries carry a v1a signature that verifies with the
// endpoint's public key, beside the v1 ones that the `standardwebhooks` package verifies.
// Real database, real receiver on 127.0.0.1, the delivery task called as the worker would.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { enableEd25519Signing } from '../../src/outbound/endpoints/endpoint-ed25519.js';
import { disableEd25519Signing, getEd25519PublicKey } from '../../src/outbound/endpoints/endpoint-store.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { verifyEd25519Signature } from '../../src/outbound/sign.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { receiversClosedAfterEach, type Received } from '../receiver.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const receiver = receiversClosedAfterEach();

async function merchantWithEndpoint(url: string) {
  const merchant = await aMerchant(deps);
  const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url }, merchant.apiKey));
  expect(res.status).toBe(201);
  const endpoint = (await res.json()) as { id: string; secret: string };
  return { merchantId: merchant.id, endpoint };
}

let n = 0;
async function deliverOne(merchantId: string): Promise<string> {
  const e = await emitEvent(db.sql, {
    merchantId,
    type: 'payment.captured',
    paymentId: null,
    dedupeKey: `v1a-${++n}`,
    data: { n },
    at: new Date(),
  });
  const messageId = e!.messageIds[0]!;
  await deliverMessage(deps, { messageId, attempt: 1 });
  return messageId;
}

const header = (r: Received, name: string) => String(r.headers[name]);
const v1aVerifies = (publicKey: string, r: Received) =>
  verifyEd25519Signature({
    publicKey,
    msgId: header(r, 'webhook-id'),
    timestamp: header(r, 'webhook-timestamp'),
    body: new Uint8Array(r.body),
    signatureHeader: header(r, 'webhook-signature'),
  });

describe('v1a signing on an endpoint', () => {
  it('is off by default: v1 signatures only, no public key', async () => {
    const r = await receiver();
    const { merchantId, endpoint } = await merchantWithEndpoint(r.url);
    await deliverOne(merchantId);
    expect(header(r.received[0]!, 'webhook-signature')).toMatch(/^v1,[^ ]+$/);
    expect(await getEd25519PublicKey(db.sql, endpoint.id)).toBeNull();
  });

  it('adds a v1a signature that verifies with the public key, keeps v1 for standardwebhooks, and stops when turned off', async () => {
    const r = await receiver();
    const { merchantId, endpoint } = await merchantWithEndpoint(r.url);
    const publicKey = await enableEd25519Signing(db.sql, deps.secretBox, endpoint.id);
    expect(publicKey).toMatch(/^whpk_/);
    expect(await enableEd25519Signing(db.sql, deps.secretBox, endpoint.id)).toBe(publicKey); // idempotent
    expect(await getEd25519PublicKey(db.sql, endpoint.id)).toBe(publicKey);
    const [stored] = await db.sql<{ ed25519_private_envelope: string }[]>`
      select ed25519_private_envelope from gw.endpoints where id = ${endpoint.id}`;
    expect(stored!.ed25519_private_envelope).not.toContain('whsk_'); // sealed, never in clear

    const messageId = await deliverOne(merchantId);
    const got = r.received[0]!;
    expect(header(got, 'webhook-id')).toBe(messageId);
    expect(
      header(got, 'webhook-signature')
        .split(' ')
        .map((e) => e.split(',')[0]),
    ).toEqual(['v1', 'v1a']);
    expect(await v1aVerifies(publicKey!, got)).toBe(true);
    const flat = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
    expect(new Webhook(endpoint.secret).verify(got.body.toString('utf8'), flat)).toMatchObject({ type: 'payment.captured' });

    expect(await disableEd25519Signing(db.sql, endpoint.id)).toBe(true);
    await deliverOne(merchantId);
    expect(header(r.received[1]!, 'webhook-signature')).toMatch(/^v1,[^ ]+$/);
    expect(await getEd25519PublicKey(db.sql, endpoint.id)).toBeNull();
  });

  it('refuses a key pair half set, in the database', async () => {
    const r = await receiver();
    const { endpoint } = await merchantWithEndpoint(r.url);
    await expect(db.sql`update gw.endpoints set ed25519_public_key = 'whpk_AAAA' where id = ${endpoint.id}`).rejects.toThrow(
      /endpoints_ed25519_pair/,
    );
  });
});
