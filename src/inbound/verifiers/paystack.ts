import { fromHex, importHmacKey, utf8, verifyHmac } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const HEADER = 'x-paystack-signature';
const MAX_HEADER_LENGTH = 4096;
const MALFORMED = `malformed ${HEADER} header: expected 128 hex characters (an HMAC-SHA512)`;

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
export const verifyPaystack: Verifier = async ({ body, headers, secrets }) => {
  const header = headers[HEADER];
  if (!header) {
    return err({
      code: 'signature_missing',
      detail: `no ${HEADER} header: is this request from Paystack, and does every proxy on the way forward the header?`,
    });
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return err({ code: 'signature_invalid', detail: `${MALFORMED}; it is longer than ${MAX_HEADER_LENGTH} characters` });
  }
  const signature = fromHex(header);
  if (!signature || signature.length !== 64) return err({ code: 'signature_invalid', detail: MALFORMED });

  if (!(await matchesAny(secrets, signature, body))) {
    return err({ code: 'signature_invalid', detail: mismatchDetail(secrets) });
  }
  return ok({});
};

function mismatchDetail(secrets: string[]): string {
  if (!secrets.some((s) => s !== '')) return 'no signature matched: the source has no non-empty secret key configured';
  const publicKey = secrets.some((s) => s.startsWith('pk_'))
    ? '; note: a configured secret is a public key (pk_…), Paystack signs with the secret key (sk_…)'
    : '';
  const whitespace = secrets.some((s) => s !== s.trim())
    ? '; note: a configured secret has leading or trailing whitespace, trim it'
    : '';
  return (
    'no signature matched: was the body re-serialised (verify the raw bytes), or was the event sent in the ' +
    `other mode (test events are signed with sk_test_…, live ones with sk_live_…)?${publicKey}${whitespace}`
  );
}

async function matchesAny(secrets: string[], signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  // Web Crypto refuses zero-length HMAC keys; an empty secret can match nothing anyway.
  for (const secret of secrets.filter((s) => s !== '')) {
    if (await verifyHmac(await importHmacKey(utf8(secret), 'SHA-512'), signature, data)) return true;
  }
  return false;
}
