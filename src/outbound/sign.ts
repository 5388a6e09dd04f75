// Outbound signing per Standard Webhooks v1, on Web Crypto only:
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
import { concatBytes, fromBase64, hmac, randomBytes, toBase64, utf8, type CryptoKey } from '../core/crypto.js';

const SECRET_PREFIX = 'whsec_';

/** Bytes of key material in a generated secret; the spec asks for 24–64. */
const SECRET_BYTES = 24;

/**
 * A fresh endpoint signing secret: `whsec_` + standard base64 of 24 random bytes, the format the
 * `standardwebhooks` and `svix` libraries expect, e.g. `'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'`.
 */
export function generateEndpointSecret(): string {
  return SECRET_PREFIX + toBase64(randomBytes(SECRET_BYTES));
}

/** The headers Standard Webhooks puts on every delivery attempt. */
interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs one delivery attempt (Standard Webhooks v1) over the bytes of `"{msgId}.{timestamp}."` + `body`: one
 * `v1,<base64>` HMAC-SHA256 per secret, keyed with its base64 after `whsec_` (pass every active secret during a
 * rotation), then one `v1a,<base64>` Ed25519 signature per `ed25519Keys` entry ({@link importEd25519PrivateKey}),
 * space-separated.
 *
 * @param input.msgId `webhook-id`, the same on every retry of a message.
 * @param input.timestamp Unix time of this attempt in **seconds** (an integer).
 * @param input.body The exact bytes that will be sent.
 * @param input.secrets `whsec_<base64>` secrets, at least one.
 * @param input.hmacSha256 Another HMAC-SHA256 in place of Web Crypto's, e.g. node:crypto's synchronous one.
 * @returns The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.
 * @throws TypeError when `secrets` is empty, a secret is not `whsec_` + base64 of at least one byte, or
 *   `timestamp` is not a safe integer.
 */
export async function signMessage(input: {
  msgId: string;
  timestamp: number;
  body: Uint8Array;
  secrets: string[];
  ed25519Keys?: CryptoKey[];
  hmacSha256?: (key: Uint8Array, data: Uint8Array) => Uint8Array | Promise<Uint8Array>;
}): Promise<SignedHeaders> {
  const { msgId, timestamp, body, secrets } = input;
  if (secrets.length === 0) throw new TypeError('signMessage needs at least one secret');
  if (!Number.isSafeInteger(timestamp)) {
    throw new TypeError(`webhook timestamp must be integer unix seconds, got ${timestamp}`);
  }
  const keys = secrets.map(decodeSecret);
  const signed = concatBytes(utf8(`${msgId}.${timestamp}.`), body);
  const mac = input.hmacSha256 ?? ((key: Uint8Array, data: Uint8Array) => hmac(key, data, 'SHA-256'));
  const macs = await Promise.all(keys.map((key) => mac(key, signed)));
  const asymmetric = await Promise.all(
    (input.ed25519Keys ?? []).map(async (key) => new Uint8Array(await crypto.subtle.sign('Ed25519', key, signed))),
  );
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': [...macs.map((mac) => `v1,${toBase64(mac)}`), ...asymmetric.map((sig) => `v1a,${toBase64(sig)}`)].join(' '),
  };
}

const PRIVATE_KEY_PREFIX = 'whsk_';
const PUBLIC_KEY_PREFIX = 'whpk_';

/**
 * A fresh Ed25519 key pair for `v1a` signatures: `privateKey` is `whsk_` + base64 of the PKCS #8 key (sealed
 * with the SecretBox; it never leaves Switchyard), `publicKey` is `whpk_` + base64 of the raw 32 bytes.
 */
export async function generateEd25519KeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as {
    privateKey: CryptoKey;
    publicKey: CryptoKey;
  };
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { privateKey: PRIVATE_KEY_PREFIX + toBase64(pkcs8), publicKey: PUBLIC_KEY_PREFIX + toBase64(raw) };
}

/**
 * Imports a `whsk_<base64 PKCS #8>` key ({@link generateEd25519KeyPair}) for `signMessage`'s `ed25519Keys`.
 * Throws a TypeError, naming no key material, when it is not one.
 */
export async function importEd25519PrivateKey(privateKey: string): Promise<CryptoKey> {
  const der = privateKey.startsWith(PRIVATE_KEY_PREFIX) ? fromBase64(privateKey.slice(PRIVATE_KEY_PREFIX.length)) : undefined;
  if (!der || der.byteLength === 0) throw new TypeError('not a whsk_<base64> Ed25519 private key');
  return crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
}

/**
 * True when a `v1a,` entry of `signatureHeader` verifies with the `whpk_<base64 raw>` public key, as a merchant
 * checks it (Ed25519 over `"{msgId}.{timestamp}."` + body). Does not check the timestamp's age.
 */
export async function verifyEd25519Signature(input: {
  publicKey: string;
  msgId: string;
  timestamp: string;
  body: Uint8Array;
  signatureHeader: string;
}): Promise<boolean> {
  const raw = input.publicKey.startsWith(PUBLIC_KEY_PREFIX) ? fromBase64(input.publicKey.slice(PUBLIC_KEY_PREFIX.length)) : undefined;
  if (raw?.byteLength !== 32) return false;
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  const signed = concatBytes(utf8(`${input.msgId}.${input.timestamp}.`), input.body);
  for (const entry of input.signatureHeader.split(' ')) {
    const [version, b64] = entry.split(',');
    if (version !== 'v1a' || !b64) continue;
    const sig = fromBase64(b64);
    if (sig && (await crypto.subtle.verify('Ed25519', key, sig, signed))) return true;
  }
  return false;
}

function decodeSecret(secret: string, index: number): Uint8Array {
  // The message names the position only: secrets must never reach logs.
  const key = secret.startsWith(SECRET_PREFIX) ? fromBase64(secret.slice(SECRET_PREFIX.length)) : undefined;
  if (key === undefined || key.byteLength === 0) {
    throw new TypeError(`secret #${index} is not a whsec_<base64> signing secret`);
  }
  return key;
}
