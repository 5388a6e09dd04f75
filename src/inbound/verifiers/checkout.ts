import { fromHex, importHmacKey, utf8, verifyHmac } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const HEADER = 'cko-signature';
const MAX_HEADER_LENGTH = 4096;
const MALFORMED = `malformed ${HEADER} header: expected 64 hex characters (an HMAC-SHA256)`;

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
export const verifyCheckout: Verifier = async ({ body, headers, secrets }) => {
  const header = headers[HEADER];
  if (!header) {
    return err({
      code: 'signature_missing',
      detail: `no ${HEADER} header: is this request from Checkout.com, and does the workflow's webhook action have a signature key?`,
    });
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return err({ code: 'signature_invalid', detail: `${MALFORMED}; it is longer than ${MAX_HEADER_LENGTH} characters` });
  }
  const signature = fromHex(header);
  if (!signature || signature.length !== 32) return err({ code: 'signature_invalid', detail: MALFORMED });

  if (!(await matchesAny(secrets, signature, body))) {
    return err({ code: 'signature_invalid', detail: mismatchDetail(secrets) });
  }
  return ok({});
};

function mismatchDetail(secrets: string[]): string {
  if (!secrets.some((s) => s !== '')) return 'no signature matched: the source has no non-empty signature key configured';
  const whitespace = secrets.some((s) => s !== s.trim())
    ? '; note: a configured secret has leading or trailing whitespace, trim it'
    : '';
  return (
    'no signature matched: was the body re-serialised (verify the raw bytes), or is this the Authorization ' +
    `header value or an API key rather than the webhook action's signature key?${whitespace}`
  );
}

async function matchesAny(secrets: string[], signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  // Web Crypto refuses zero-length HMAC keys; an empty secret can match nothing anyway.
  for (const secret of secrets.filter((s) => s !== '')) {
    if (await verifyHmac(await importHmacKey(utf8(secret)), signature, data)) return true;
  }
  return false;
}
