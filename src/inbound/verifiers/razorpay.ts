import { fromHex, importHmacKey, utf8, verifyHmac } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const HEADER = 'x-razorpay-signature';
const EVENT_ID_HEADER = 'x-razorpay-event-id';
const MAX_HEADER_LENGTH = 4096;
const MALFORMED = `malformed ${HEADER} header: expected 64 hex characters (an HMAC-SHA256)`;

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
export const verifyRazorpay: Verifier = async ({ body, headers, secrets }) => {
  const header = headers[HEADER];
  if (!header) {
    return err({
      code: 'signature_missing',
      detail: `no ${HEADER} header: is this request from Razorpay, and does every proxy on the way forward the header?`,
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
  const eventId = headers[EVENT_ID_HEADER];
  return ok(eventId && eventId.length <= 255 ? { eventId } : {});
};

function mismatchDetail(secrets: string[]): string {
  if (!secrets.some((s) => s !== '')) return 'no signature matched: the source has no non-empty webhook secret configured';
  const whitespace = secrets.some((s) => s !== s.trim())
    ? '; note: a configured secret has leading or trailing whitespace, trim it'
    : '';
  return (
    'no signature matched: was the body re-serialised (verify the raw bytes), or is this the API key ' +
    `secret rather than the webhook secret set on the Dashboard webhook?${whitespace}`
  );
}

async function matchesAny(secrets: string[], signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  // Web Crypto refuses zero-length HMAC keys; an empty secret can match nothing anyway.
  for (const secret of secrets.filter((s) => s !== '')) {
    if (await verifyHmac(await importHmacKey(utf8(secret)), signature, data)) return true;
  }
  return false;
}
