// (node) node:crypto's HMAC for verifyHmac (src/core/crypto.ts useHmacBackend). The inbound
// path itself stays Web Crypto only; the Node entry lends it this synchronous HMAC.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HmacBackend } from '../../core/crypto.js';

/**
 * node:crypto's `createHmac` and `timingSafeEqual` as an {@link HmacBackend}: the same
 * RFC 2104 HMAC as Web Crypto's, computed on the calling thread rather than as a
 * thread-pool job. `timingSafeEqual` throws on different lengths; verifyHmac compares
 * lengths first.
 */
export const nodeHmacBackend: HmacBackend = {
  hmac: (hash, key, data) => createHmac(hash === 'SHA-256' ? 'sha256' : 'sha512', key).update(data).digest(),
  timingSafeEqual: (a, b) => timingSafeEqual(a, b),
};
