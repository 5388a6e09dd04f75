import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Paystack webhook (https://paystack.com/docs/payments/webhooks/#verify-event-origin):
 * `x-paystack-signature` is the hex HMAC-SHA512 of the body under the secret key (`sk_…`).
 *
 * @example
 * const r = await verifyPaystack({ body, headers, secrets: ['sk_live_…'], toleranceSeconds: 300, now });
 */
export const verifyPaystack: Verifier = makeBodyHmacVerifier({
  header: 'x-paystack-signature',
  hash: 'SHA-512',
  encoding: 'hex',
  psp: 'Paystack',
  secretName: 'secret key (sk_live_… or sk_test_…)',
  likelyMistake: 'the public key, or the key of the other mode (test or live)',
  malformedHint: (header) =>
    /(^|,)\s*t=\d+/.test(header)
      ? '; this value is timestamped (t=…,v1=…): the verifier checks the hex HMAC-SHA512 of the body that Paystack documents'
      : '',
});
