// (node) node:crypto's HMAC, lent to the Web-Crypto-only inbound path via useHmacBackend.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HmacBackend } from '../../core/crypto.js';

/**
 * node:crypto's `createHmac` and `timingSafeEqual` as an {@link HmacBackend} (RFC 2104),
 * computed on the calling thread. `timingSafeEqual` throws on unequal lengths.
 */
export const nodeHmacBackend: HmacBackend = {
  hmac: (hash, key, data) =>
    createHmac(hash === 'SHA-256' ? 'sha256' : 'sha512', key)
      .update(data)
      .digest(),
  timingSafeEqual: (a, b) => timingSafeEqual(a, b),
};
