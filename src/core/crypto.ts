// Byte codecs and HMAC on Web Crypto only, so they run on Node and Workers alike. MACs are
// compared with crypto.subtle.verify (constant time), never `===`.

const encoder = new TextEncoder();

/** A Web Crypto key (named here because the Node typings keep it off the global scope). */
export type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Concatenates byte arrays into one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of a hex string, or `undefined` when it is not even-length hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Standard (padded) base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Bytes of a standard or URL-safe base64 string, or `undefined` when it is not base64. */
export function fromBase64(b64: string): Uint8Array | undefined {
  const normalized = b64.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized)) return undefined;
  try {
    const bin = atob(normalized);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/** URL-safe base64 without padding (RFC 4648 §5), for tokens. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `n` cryptographically random bytes. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

// Imported HMAC keys (an import costs more than a verify), cleared when full; the bytes are in memory anyway (source cache).
const HMAC_KEY_CACHE_MAX = 512;
const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** A synchronous HMAC a host may lend {@link verifyHmac}: the RFC 2104 HMAC Web Crypto computes, compared in constant time. */
export interface HmacBackend {
  /** HMAC-`hash` of `data` under the raw `key` bytes. */
  hmac(hash: 'SHA-256' | 'SHA-512', key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Constant-time equality of two byte strings of the same length. */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

let hmacBackend: HmacBackend | undefined;
// The raw bytes and hash of each key importHmacKey made, for the backend.
const hmacKeyBytes = new WeakMap<CryptoKey, { raw: Uint8Array; hash: 'SHA-256' | 'SHA-512' }>();

/** Lends {@link verifyHmac} a synchronous HMAC (`undefined` takes it back): on Node each Web Crypto call is a thread-pool job. */
export function useHmacBackend(backend: HmacBackend | undefined): void {
  hmacBackend = backend;
}

/** Imports raw key bytes as an HMAC key (sign and verify), remembered per process (at most 512 keys). */
export function importHmacKey(key: Uint8Array, hash: 'SHA-256' | 'SHA-512' = 'SHA-256'): Promise<CryptoKey> {
  const id = `${hash}:${toHex(key)}`;
  let imported = hmacKeys.get(id);
  if (!imported) {
    if (hmacKeys.size >= HMAC_KEY_CACHE_MAX) hmacKeys.clear();
    const raw = key.slice();
    imported = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash }, false, ['sign', 'verify']).then((k) => {
      hmacKeyBytes.set(k, { raw, hash });
      return k;
    });
    imported.catch(() => hmacKeys.delete(id));
    hmacKeys.set(id, imported);
  }
  return imported;
}

/** HMAC of `data` under `key` (raw bytes), as bytes. */
export async function hmac(key: Uint8Array, data: Uint8Array, hash: 'SHA-256' | 'SHA-512' = 'SHA-256'): Promise<Uint8Array> {
  const k = await importHmacKey(key, hash);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, data));
}

/**
 * Constant-time check that `mac` is the HMAC of `data` under `key`: the lent {@link HmacBackend} for keys from
 * {@link importHmacKey}, else `crypto.subtle.verify`. Only the (public) length of `mac` is compared in variable time.
 */
export async function verifyHmac(key: CryptoKey, mac: Uint8Array, data: Uint8Array): Promise<boolean> {
  const known = hmacBackend && hmacKeyBytes.get(key);
  if (hmacBackend && known) {
    const expected = hmacBackend.hmac(known.hash, known.raw, data);
    return expected.byteLength === mac.byteLength && hmacBackend.timingSafeEqual(expected, mac);
  }
  return crypto.subtle.verify('HMAC', key, mac, data);
}

/** Lower-case hex SHA-256 of a string's UTF-8 bytes; used to store API keys as hashes. */
export async function sha256Hex(s: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(s))));
}
