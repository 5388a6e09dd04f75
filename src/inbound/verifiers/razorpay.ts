import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Razorpay webhook (https://razorpay.com/docs/webhooks/validate-test/).
 *
 * Header `x-razorpay-signature` is the hex HMAC-SHA256 of the raw body, keyed with the
 * webhook secret chosen on the Dashboard webhook (not the API key secret) as UTF-8; the same
 * check as `Razorpay.validateWebhookSignature(body, signature, secret)` in razorpay-node. Any
 * of `secrets` may match. The scheme signs no timestamp, so `toleranceSeconds` does not apply.
 *
 * Failures: `signature_missing` (no header); `signature_invalid` (not 64 hex characters,
 * over 4096 characters, or no match). Never throws. On success returns
 * `ok({ eventId })` with the `x-razorpay-event-id` header when present (1–255 characters):
 * Razorpay's id for deduplicating retries. That header is not covered by the signature.
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
