import { fromHex, importHmacKey, utf8, verifyHmac } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const HEADER = 'webhook-signature';
const MAX_HEADER_LENGTH = 4096;
const MALFORMED = `malformed ${HEADER} header: expected 64 hex characters (GoCardless's HMAC-SHA256)`;

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
export const verifyGoCardless: Verifier = async ({ body, headers, secrets }) => {
  const header = headers[HEADER];
  if (!header) {
    return err({
      code: 'signature_missing',
      detail: `no ${HEADER} header: is this request from GoCardless, and does every proxy on the way forward the header?`,
    });
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return err({ code: 'signature_invalid', detail: `${MALFORMED}; it is longer than ${MAX_HEADER_LENGTH} characters` });
  }
  const signature = fromHex(header);
  if (!signature || signature.length !== 32) {
    const standard = /^v1[a-z]?,/.test(header) ? '; this looks like a Standard Webhooks signature: is the source\'s provider right?' : '';
    return err({ code: 'signature_invalid', detail: `${MALFORMED}${standard}` });
  }

  if (!(await matchesAny(secrets, signature, body))) {
    return err({ code: 'signature_invalid', detail: mismatchDetail(secrets) });
  }
  return ok({});
};

function mismatchDetail(secrets: string[]): string {
  if (!secrets.some((s) => s !== '')) return 'no signature matched: the source has no non-empty endpoint secret configured';
  const whitespace = secrets.some((s) => s !== s.trim())
    ? '; note: a configured secret has leading or trailing whitespace, trim it'
    : '';
  return (
    'no signature matched: was the body re-serialised (verify the raw bytes), or is this the secret of ' +
    `another webhook endpoint (sandbox and live endpoints have different secrets)?${whitespace}`
  );
}

async function matchesAny(secrets: string[], signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  // Web Crypto refuses zero-length HMAC keys; an empty secret can match nothing anyway.
  for (const secret of secrets.filter((s) => s !== '')) {
    if (await verifyHmac(await importHmacKey(utf8(secret)), signature, data)) return true;
  }
  return false;
}
