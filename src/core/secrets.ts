import { fromBase64, randomBytes, toBase64, toHex, utf8, type CryptoKey } from './crypto.js';
import { AppError } from './errors.js';

/**
 * AES-256-GCM of stored secrets under SWITCHYARD_MASTER_KEY (Web Crypto: Workers too), as
 * `v2.<key id>.<b64 IV>.<b64 ciphertext+tag>`: each envelope names the key that sealed it (README "Rotating the master
 * key"). Envelopes from before key ids, `v1.<b64 IV>.<b64 ciphertext+tag>`, still open (every key is tried).
 */
export interface SecretBox {
  /** The id of the key that seals: the first of SWITCHYARD_MASTER_KEY. */
  readonly keyId: string;
  /** Seals under the first key. */
  encrypt(plaintext: string): Promise<string>;
  /** Opens with the key the envelope names (else any key that opens it); throws {@link SecretUnreadableError} when malformed or no key here opens it. */
  decrypt(envelope: string): Promise<string>;
  /** True when `envelope` was sealed under the first key (so `switchyard keys reencrypt` leaves it). */
  sealedWithCurrentKey(envelope: string): boolean;
}

/** A stored secret this process's master key cannot open: sealed under another key, or not an envelope. */
export class SecretUnreadableError extends Error {
  constructor(reason: 'wrong_key' | 'malformed', options: { cause?: unknown } = {}) {
    super(
      reason === 'wrong_key'
        ? 'a stored secret cannot be opened with this SWITCHYARD_MASTER_KEY: it was sealed under another master key (restore the key the database was used with)'
        : 'a stored secret is not a valid envelope (expected v2.<key id>.<iv>.<ciphertext>), so SWITCHYARD_MASTER_KEY cannot open it',
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'SecretUnreadableError';
  }
}

/** Rethrows a {@link SecretUnreadableError} as AppError 500 `secret_unreadable`, others unchanged: `.catch(rethrowSecretUnreadable)`. */
export function rethrowSecretUnreadable(error: unknown): never {
  if (error instanceof SecretUnreadableError) {
    throw new AppError('secret_unreadable', 500, "A stored secret cannot be opened with this server's SWITCHYARD_MASTER_KEY.", {
      cause: error,
    });
  }
  throw error;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** One key of SWITCHYARD_MASTER_KEY: `<id>:<base64>` or bare base64 (its id: the first 8 hex digits of its SHA-256). */
async function parseKey(entry: string): Promise<{ id: string; key: CryptoKey }> {
  const colon = entry.indexOf(':');
  const named = colon >= 0 ? entry.slice(0, colon) : undefined;
  const raw = fromBase64(colon >= 0 ? entry.slice(colon + 1) : entry);
  if (raw?.byteLength !== 32) {
    throw new Error(
      'SWITCHYARD_MASTER_KEY must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`), or several such keys separated by commas, each optionally `<id>:<key>`.',
    );
  }
  if (named !== undefined && !KEY_ID.test(named)) {
    throw new Error('SWITCHYARD_MASTER_KEY: a key id (before the colon) is 1 to 32 letters, digits, `_` or `-`.');
  }
  const id = named ?? toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', raw))).slice(0, 8);
  return { id, key: await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']) };
}

/**
 * A {@link SecretBox} under `masterKeys`: one key (base64 of exactly 32 bytes) or several separated by commas or
 * whitespace, each `<id>:<base64>` or bare (then its id is derived from it). The first seals; every one opens.
 * Throws an Error naming SWITCHYARD_MASTER_KEY when a key is malformed or two share an id.
 */
export async function createSecretBox(masterKeys: string): Promise<SecretBox> {
  const entries = masterKeys.split(/[\s,]+/).filter((e) => e !== '');
  if (entries.length === 0) throw new Error('SWITCHYARD_MASTER_KEY holds no key (base64 of 32 random bytes: `openssl rand -base64 32`).');
  const keys = await Promise.all(entries.map(parseKey));
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  if (byId.size !== keys.length) throw new Error('SWITCHYARD_MASTER_KEY lists the same key (or key id) twice.');
  const first = keys[0]!;
  const prefix = `v2.${first.id}.`;
  const decoder = new TextDecoder();
  const open = async (key: CryptoKey, iv: Uint8Array, sealed: Uint8Array) =>
    decoder.decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed));
  return {
    keyId: first.id,
    async encrypt(plaintext) {
      const iv = randomBytes(12);
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, first.key, utf8(plaintext)));
      return `${prefix}${toBase64(iv)}.${toBase64(sealed)}`;
    },
    async decrypt(envelope) {
      const parts = envelope.split('.');
      const version = parts[0];
      const [keyId, ivB64, sealedB64] = version === 'v2' ? parts.slice(1) : [undefined, ...parts.slice(1)];
      const iv = ivB64 === undefined ? undefined : fromBase64(ivB64);
      const sealed = sealedB64 === undefined ? undefined : fromBase64(sealedB64);
      if ((version !== 'v1' && version !== 'v2') || !iv || !sealed || iv.byteLength !== 12 || parts.length !== (version === 'v2' ? 4 : 3)) {
        throw new SecretUnreadableError('malformed');
      }
      // The named key first; then every key, as for a v1 envelope (which names none) or a key listed under another
      // id than it sealed with (AES-GCM's tag tells a wrong key).
      const named = keyId === undefined ? undefined : byId.get(keyId);
      const candidates = named ? [named] : keys.map((k) => k.key);
      let failure: unknown;
      for (const key of candidates) {
        try {
          return await open(key, iv, sealed);
        } catch (error) {
          // AES-GCM reports a wrong key and tampered bytes alike, as a bare OperationError.
          failure = error;
        }
      }
      throw new SecretUnreadableError('wrong_key', { cause: failure });
    },
    sealedWithCurrentKey(envelope) {
      return envelope.startsWith(prefix);
    },
  };
}

/** A fresh master key: base64 of 32 random bytes. */
export function generateMasterKey(): string {
  return toBase64(randomBytes(32));
}
