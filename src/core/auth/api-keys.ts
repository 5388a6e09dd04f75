import { randomBytes, sha256Hex, toBase64Url } from '../crypto.js';

/** A new merchant API key: `sk_` + 43 URL-safe base64 characters (32 random bytes); shown once, only its hash stored. */
export function generateApiKey(): string {
  return `sk_${toBase64Url(randomBytes(32))}`;
}

/** Lower-case hex SHA-256 of an API key: what the database keeps and looks keys up by. */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

/** The first characters of a key, stored so a person can tell keys apart. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, 7);
}

/** Constant-time equality of strings of any length (the admin token): HMACs both under a random key, compared by subtle.verify. */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', randomBytes(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const mac = await crypto.subtle.sign('HMAC', key, enc.encode(a));
  return crypto.subtle.verify('HMAC', key, mac, enc.encode(b));
}
