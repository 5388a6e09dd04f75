import { Buffer } from 'node:buffer';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { fromBase64, utf8 } from '../core/crypto.js';
import { generateEd25519KeyPair, generateEndpointSecret, importEd25519PrivateKey, signMessage, verifyEd25519Signature } from './sign.js';

// The example from the Standard Webhooks spec, reproduced with
// `new Webhook(secret).sign(id, new Date(timestamp * 1000), payload)` from `standardwebhooks`.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('signMessage', () => {
  it('matches the signature the standardwebhooks library computes for a fixed vector', async () => {
    const headers = await signMessage({
      msgId: VECTOR.msgId,
      timestamp: VECTOR.timestamp,
      body: utf8(VECTOR.payload),
      secrets: [VECTOR.secret],
    });
    const reference = new Webhook(VECTOR.secret).sign(VECTOR.msgId, new Date(VECTOR.timestamp * 1000), VECTOR.payload);
    expect(reference).toBe(VECTOR.signature);
    expect(headers).toEqual({
      'webhook-id': VECTOR.msgId,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it('produces headers the official verifier accepts under either secret during rotation', async () => {
    const oldSecret = generateEndpointSecret();
    const newSecret = generateEndpointSecret();
    const payload = JSON.stringify({ type: 'payment.captured', data: { amount: '12.50', note: 'café ✓' } });
    const headers = await signMessage({
      msgId: 'msg_rotation',
      timestamp: Math.floor(Date.now() / 1000),
      body: utf8(payload),
      secrets: [oldSecret, newSecret],
    });

    const entries = headers['webhook-signature'].split(' ');
    expect(entries).toHaveLength(2);
    for (const entry of entries) expect(entry).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    for (const secret of [oldSecret, newSecret]) {
      expect(new Webhook(secret).verify(Buffer.from(utf8(payload)), { ...headers })).toEqual(JSON.parse(payload));
    }
    expect(() => new Webhook(generateEndpointSecret()).verify(payload, { ...headers })).toThrow(/No matching signature/);
  });

  it('signs the body bytes exactly, so a changed byte fails verification', async () => {
    const secret = generateEndpointSecret();
    const headers = await signMessage({
      msgId: 'msg_tamper',
      timestamp: Math.floor(Date.now() / 1000),
      body: utf8('{"a":1}'),
      secrets: [secret],
    });
    expect(() => new Webhook(secret).verify('{"a":2}', { ...headers })).toThrow();
  });

  it('rejects an empty secret list with a TypeError', async () => {
    await expect(signMessage({ msgId: 'msg_1', timestamp: 1, body: new Uint8Array(), secrets: [] })).rejects.toThrow(TypeError);
  });

  it.each([
    ['a secret without the whsec_ prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['a secret that is not base64', 'whsec_not*base64!'],
    ['a secret with an empty key', 'whsec_'],
  ])('rejects %s with a TypeError that does not echo the secret', async (_label, secret) => {
    const attempt = signMessage({
      msgId: 'msg_1',
      timestamp: 1,
      body: new Uint8Array(),
      secrets: [generateEndpointSecret(), secret],
    });
    await expect(attempt).rejects.toThrow(TypeError);
    await expect(attempt).rejects.toThrow(/secret #1/);
    if (secret.length > 6) await expect(attempt).rejects.not.toThrow(secret);
  });

  it('rejects a timestamp that is not integer seconds', async () => {
    await expect(
      signMessage({ msgId: 'msg_1', timestamp: Date.now() / 1000 + 0.5, body: new Uint8Array(), secrets: [VECTOR.secret] }),
    ).rejects.toThrow(TypeError);
  });
});

describe('generateEndpointSecret', () => {
  it('returns whsec_ followed by base64 that decodes to 24 bytes', () => {
    const secret = generateEndpointSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(fromBase64(secret.slice('whsec_'.length))?.byteLength).toBe(24);
  });

  it('returns a different secret on every call', () => {
    const secrets = new Set(Array.from({ length: 50 }, generateEndpointSecret));
    expect(secrets.size).toBe(50);
  });
});

describe('v1a (Ed25519) signatures', () => {
  it('adds one v1a entry per key, which verifies with the whpk_ public key and not with another', async () => {
    const pair = await generateEd25519KeyPair();
    expect(pair.publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/); // 32 raw bytes
    expect(pair.privateKey).toMatch(/^whsk_/);
    const body = utf8('{"type":"payment.captured"}');
    const secret = generateEndpointSecret();
    const headers = await signMessage({
      msgId: 'msg_v1a',
      timestamp: 1_700_000_000,
      body,
      secrets: [secret],
      ed25519Keys: [await importEd25519PrivateKey(pair.privateKey)],
    });

    const entries = headers['webhook-signature'].split(' ');
    expect(entries.map((e) => e.split(',')[0])).toEqual(['v1', 'v1a']);
    const check = (publicKey: string, signatureHeader = headers['webhook-signature']) =>
      verifyEd25519Signature({ publicKey, msgId: 'msg_v1a', timestamp: '1700000000', body, signatureHeader });
    expect(await check(pair.publicKey)).toBe(true);
    expect(await check((await generateEd25519KeyPair()).publicKey)).toBe(false);
    expect(
      await verifyEd25519Signature({
        publicKey: pair.publicKey,
        msgId: 'msg_other',
        timestamp: '1700000000',
        body,
        signatureHeader: headers['webhook-signature'],
      }),
    ).toBe(false);
    // Beside it, the v1 entry still verifies with the standardwebhooks package (which skips v1a).
    const fresh = Math.floor(Date.now() / 1000);
    const now = await signMessage({
      msgId: 'msg_v1a',
      timestamp: fresh,
      body,
      secrets: [secret],
      ed25519Keys: [await importEd25519PrivateKey(pair.privateKey)],
    });
    expect(new Webhook(secret).verify(Buffer.from(body).toString('utf8'), { ...now })).toEqual({ type: 'payment.captured' });
  });

  it('refuses a private key that is not whsk_<base64>', async () => {
    await expect(importEd25519PrivateKey('whsec_AAAA')).rejects.toThrow(TypeError);
  });
});

describe('signMessage with another HMAC implementation', () => {
  it('gives the same signatures with node:crypto as with Web Crypto', async () => {
    const { createHmac } = await import('node:crypto');
    const input = {
      msgId: 'msg_same',
      timestamp: 1_700_000_000,
      body: utf8('{"a":1}'),
      secrets: [generateEndpointSecret(), generateEndpointSecret()],
    };
    const web = await signMessage(input);
    const node = await signMessage({ ...input, hmacSha256: (key, data) => createHmac('sha256', key).update(data).digest() });
    expect(node).toEqual(web);
  });
});
