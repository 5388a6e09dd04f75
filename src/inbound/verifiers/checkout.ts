import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Checkout.com webhook
 * (https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver).
 *
 * Header `cko-signature` is the hex (Base16) HMAC-SHA256 of the raw body, keyed with the
 * signature key set on the workflow's webhook action, as UTF-8. Any of `secrets` may match.
 * The scheme signs no timestamp, so `toleranceSeconds` does not apply.
 *
 * Failures: `signature_missing` (no header); `signature_invalid` (not 64 hex characters,
 * over 4096 characters, or no match). Never throws. On success returns `ok({})`: the event
 * id (`evt_…`) is the body's `id`.
 *
 * @example
 * const r = await verifyCheckout({ body, headers, secrets: [signatureKey], toleranceSeconds: 300, now });
 */
export const verifyCheckout: Verifier = makeBodyHmacVerifier({
  header: 'cko-signature',
  hash: 'SHA-256',
  encoding: 'hex',
  psp: 'Checkout.com',
  secretName: "signature key of the workflow's webhook action",
  likelyMistake: 'the Authorization header value or an API key',
});
