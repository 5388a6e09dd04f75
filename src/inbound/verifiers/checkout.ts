import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Checkout.com webhook
 * (https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver):
 * `cko-signature` is the hex HMAC-SHA256 of the body under the webhook action's signature key.
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
