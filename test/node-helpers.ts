// Node's own implementations, for unit tests beside the Workers-safe source (src/inbound must not import node:*):
// fixtures read from disk, and node:crypto's HMAC as a check independent of the Web Crypto code under test.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The text of `test/fixtures/<path>`, exactly as stored (UTF-8). */
export function fixtureText(path: string): string {
  return readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8');
}

/** HMAC of `data` under `key` (strings as UTF-8) by node:crypto, in `encoding`; `algorithm` as node names it ('sha256'…). */
export function nodeHmac(algorithm: string, key: string | Uint8Array, data: string | Uint8Array, encoding: 'hex' | 'base64'): string {
  return createHmac(algorithm, key).update(data).digest(encoding);
}
