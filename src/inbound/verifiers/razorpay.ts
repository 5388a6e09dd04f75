import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Razorpay webhook (https://razorpay.com/docs/webhooks/validate-test/):
 * `x-razorpay-signature` is the hex HMAC-SHA256 of the body under the webhook secret. Returns
 * `ok({ eventId })` from `x-razorpay-event-id` when present (not covered by the signature).
 *
 * @example
 * const r = await verifyRazorpay({ body, headers, secrets: [webhookSecret], toleranceSeconds: 300, now });
 * if (r.ok) dedupeOn(r.value.eventId);
 */
export const verifyRazorpay: Verifier = makeBodyHmacVerifier({
  header: 'x-razorpay-signature',
  hash: 'SHA-256',
  encoding: 'hex',
  psp: 'Razorpay',
  secretName: 'webhook secret set on the Dashboard webhook',
  likelyMistake: 'the API key secret',
  eventIdHeader: 'x-razorpay-event-id',
});
