import { makeBodyHmacVerifier } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a GoCardless webhook
 * (https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks/):
 * `Webhook-Signature` is the hex HMAC-SHA256 of the whole batch body under the endpoint
 * secret. The header name is Standard Webhooks', so a `v1,<base64>` value is named as a mix-up.
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
