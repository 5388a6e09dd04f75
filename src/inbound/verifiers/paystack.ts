import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Paystack webhook (https://paystack.com/docs/payments/webhooks/#verify-event-origin).
 *
 * Header `x-paystack-signature` is the hex HMAC-SHA512 of the raw body, keyed with the
 * integration's secret key (`sk_live_…` / `sk_test_…`) as UTF-8. Any of `secrets` may match
 * (a test and a live key, or a key being rolled). The scheme signs no timestamp, so
 * `toleranceSeconds` does not apply.
 *
 * Failures: `signature_missing` (no header); `signature_invalid` (not 128 hex characters,
 * over 4096 characters, or no match). Never throws. On success returns `ok({})`.
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
