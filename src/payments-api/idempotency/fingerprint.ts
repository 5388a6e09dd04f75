import { sha256Hex } from '../../core/crypto.js';

/**
 * JSON with object keys sorted at every depth and no whitespace, so equal bodies serialise
 * alike. Arrays keep their order; `undefined` members are dropped, as JSON.stringify does.
 *
 * @example
 * canonicalJson({ b: 2, a: { d: 1, c: [3, 1] } }) // '{"a":{"c":[3,1],"d":1},"b":2}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/**
 * The fingerprint an idempotency key is bound to: hex SHA-256 of `METHOD\npath\ncanonical
 * body` (draft-ietf-httpapi-idempotency-key-header §2.4). The path keeps one payment's key
 * from replaying for another's.
 */
export async function requestFingerprint(method: string, path: string, body: unknown): Promise<string> {
  return sha256Hex(`${method.toUpperCase()}\n${path}\n${canonicalJson(body)}`);
}
