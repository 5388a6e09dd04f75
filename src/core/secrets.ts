import { fromBase64, randomBytes, toBase64, utf8 } from './crypto.js';
import { AppError } from './errors.js';

/** AES-256-GCM of stored secrets under SWITCHYARD_MASTER_KEY (Web Crypto: Workers too), as `v1.<b64 IV>.<b64 ciphertext+tag>`. */
export interface SecretBox {
  encrypt(plaintext: string): Promise<string>;
  /** Throws {@link SecretUnreadableError} when the envelope is malformed or sealed under another key. */
  decrypt(envelope: string): Promise<string>;
}

/** A stored secret this process's master key cannot open: sealed under another key, or not an envelope. */
export class SecretUnreadableError extends Error {
  constructor(reason: 'wrong_key' | 'malformed', options: { cause?: unknown } = {}) {
    super(
      reason === 'wrong_key'
        ? 'a stored secret cannot be opened with this SWITCHYARD_MASTER_KEY: it was sealed under another master key (restore the key the database was used with)'
        : 'a stored secret is not a valid envelope (expected v1.<iv>.<ciphertext>), so SWITCHYARD_MASTER_KEY cannot open it',
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

/** A {@link SecretBox} under the master key (base64 of exactly 32 bytes); throws an Error otherwise. */
export async function createSecretBox(masterKeyBase64: string): Promise<SecretBox> {
  const raw = fromBase64(masterKeyBase64.trim());
  if (raw?.byteLength !== 32) {
    throw new Error('SWITCHYARD_MASTER_KEY must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`).');
  }
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const decoder = new TextDecoder();
  return {
    async encrypt(plaintext) {
      const iv = randomBytes(12);
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, utf8(plaintext)));
      return `v1.${toBase64(iv)}.${toBase64(sealed)}`;
    },
    async decrypt(envelope) {
      const [version, ivB64, sealedB64] = envelope.split('.');
      const iv = ivB64 === undefined ? undefined : fromBase64(ivB64);
      const sealed = sealedB64 === undefined ? undefined : fromBase64(sealedB64);
      if (version !== 'v1' || !iv || !sealed || iv.byteLength !== 12) throw new SecretUnreadableError('malformed');
      let plain: ArrayBuffer;
      try {
        plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed);
      } catch (error) {
        // AES-GCM reports a wrong key and tampered bytes alike, as a bare OperationError.
        throw new SecretUnreadableError('wrong_key', { cause: error });
      }
      return decoder.decode(plain);
    },
  };
}

/** A fresh master key: base64 of 32 random bytes. */
export function generateMasterKey(): string {
  return toBase64(randomBytes(32));
}
