/**
 * Outbound signing per Standard Webhooks v1
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 * Web Crypto only, so it runs wherever `src/core/crypto.ts` runs.
 */
import { concatBytes, fromBase64, hmac, randomBytes, toBase64, utf8 } from '../core/crypto.js';

const SECRET_PREFIX = 'whsec_';

/** Bytes of key material in a generated secret; the spec asks for 24–64. */
const SECRET_BYTES = 24;

/**
 * A fresh endpoint signing secret: `whsec_` followed by the standard base64 of 24 random
 * bytes (32 characters), the format the `standardwebhooks` and `svix` libraries expect.
 *
 * @example
 * generateEndpointSecret(); // 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
 */
export function generateEndpointSecret(): string {
  return SECRET_PREFIX + toBase64(randomBytes(SECRET_BYTES));
}

/** The headers Standard Webhooks puts on every delivery attempt. */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs one delivery attempt per Standard Webhooks v1: HMAC-SHA256 over the bytes of
 * `"{msgId}.{timestamp}."` followed by `body`, keyed with the base64-decoded part of each
 * secret after `whsec_`. During rotation pass every active secret; each yields one
 * `v1,<base64>` entry, space-separated, so receivers holding either secret verify.
 *
 * @param input.msgId `webhook-id`, the same on every retry of a message.
 * @param input.timestamp Unix time of this attempt in **seconds** (an integer).
 * @param input.body The exact bytes that will be sent.
 * @param input.secrets `whsec_<base64>` secrets, at least one.
 * @returns The three `webhook-*` headers.
 * @throws TypeError when `secrets` is empty, a secret lacks the `whsec_` prefix or its key
 *   does not decode to at least one byte, or `timestamp` is not a safe integer.
 *
 * @example
 * const headers = await signMessage({ msgId: 'msg_1', timestamp: 1614265330, body, secrets: [secret] });
 * headers['webhook-signature']; // 'v1,g0hM9SsE+OTP…'
 */
export async function signMessage(input: {
  msgId: string;
  timestamp: number;
  body: Uint8Array;
  secrets: string[];
}): Promise<SignedHeaders> {
  const { msgId, timestamp, body, secrets } = input;
  if (secrets.length === 0) throw new TypeError('signMessage needs at least one secret');
  if (!Number.isSafeInteger(timestamp)) {
    throw new TypeError(`webhook timestamp must be integer unix seconds, got ${timestamp}`);
  }
  const keys = secrets.map(decodeSecret);
  const signed = concatBytes(utf8(`${msgId}.${timestamp}.`), body);
  const macs = await Promise.all(keys.map((key) => hmac(key, signed, 'SHA-256')));
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': macs.map((mac) => `v1,${toBase64(mac)}`).join(' '),
  };
}

function decodeSecret(secret: string, index: number): Uint8Array {
  // The message names the position only: secrets must never reach logs.
  const key = secret.startsWith(SECRET_PREFIX)
    ? fromBase64(secret.slice(SECRET_PREFIX.length))
    : undefined;
  if (key === undefined || key.byteLength === 0) {
    throw new TypeError(`secret #${index} is not a whsec_<base64> signing secret`);
  }
  return key;
}
