import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a GoCardless webhook
 * (https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks/).
 *
 * Header `Webhook-Signature` is the hex HMAC-SHA256 of the raw body, keyed with the webhook
 * endpoint's secret as UTF-8. The body batches events in an `events` array; one signature
 * covers the whole batch and splitting it is the caller's job. Any of `secrets` may match.
 * The scheme signs no timestamp, so `toleranceSeconds` does not apply.
 *
 * GoCardless's header name is the one Standard Webhooks uses, with a different value: a
 * Standard Webhooks `v1,<base64>` value is reported as malformed here, naming the mix-up.
 *
 * Failures: `signature_missing` (no header); `signature_invalid` (not 64 hex characters,
 * over 4096 characters, or no match). Never throws. On success returns `ok({})`.
 *
 * @example
 * const r = await verifyGoCardless({ body, headers, secrets: [endpointSecret], toleranceSeconds: 300, now });
 */
export const verifyGoCardless: Verifier = makeBodyHmacVerifier({
  header: 'webhook-signature',
  hash: 'SHA-256',
  encoding: 'hex',
  psp: 'GoCardless',
  secretName: "webhook endpoint's secret",
  likelyMistake: 'an access token or the secret of another webhook endpoint',
  malformedHint: (header) =>
    /^v1[a-z]?,/.test(header) ? "; this looks like a Standard Webhooks signature: is the source's provider right?" : '',
});
