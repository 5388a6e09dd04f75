import { concatBytes, fromBase64, utf8 } from '../../core/crypto.js';
import { MAX_SIGNATURE_HEADER_LENGTH, matchesAnyKey, whitespaceHint } from './hmac.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const HEADER = 'x-square-hmacsha256-signature';
const LEGACY_HEADER = 'x-square-signature';
const MALFORMED = `malformed ${HEADER} header: expected the base64 of an HMAC-SHA256 (44 characters)`;

/**
 * A verifier for the Square subscription with `notificationUrl`
 * (https://developer.squareup.com/docs/webhooks/step3validate): `x-square-hmacsha256-signature`
 * is the base64 HMAC-SHA256 under the signature key of that URL + the body. The URL must be the
 * subscription's string byte for byte, never rebuilt from the request (a proxy may change it).
 * No timestamp is signed. The legacy HMAC-SHA1 header is not supported.
 *
 * @example
 * const verify = makeVerifySquare('https://gw.example.com/inbound/src_01J…');
 * const r = await verify({ body, headers, secrets: [signatureKey], toleranceSeconds: 300, now });
 */
export function makeVerifySquare(notificationUrl: string): Verifier {
  return async ({ body, headers, secrets }) => {
    const header = headers[HEADER];
    if (!header) {
      const legacy = headers[LEGACY_HEADER]
        ? `; only the legacy HMAC-SHA1 ${LEGACY_HEADER} came, which is not supported`
        : ': is this request from Square, and does every proxy on the way forward the header?';
      return err({ code: 'signature_missing', detail: `no ${HEADER} header${legacy}` });
    }
    if (header.length > MAX_SIGNATURE_HEADER_LENGTH) {
      return err({ code: 'signature_invalid', detail: `${MALFORMED}; it is longer than ${MAX_SIGNATURE_HEADER_LENGTH} characters` });
    }
    const signature = fromBase64(header);
    if (signature?.length !== 32) return err({ code: 'signature_invalid', detail: MALFORMED });
    if (notificationUrl === '') {
      return err({
        code: 'signature_invalid',
        detail: 'this Square source has no notification URL configured, and Square signs the URL with the body',
      });
    }

    if (!(await matchesAnyKey(secrets.map(utf8), [signature], concatBytes(utf8(notificationUrl), body)))) {
      return err({ code: 'signature_invalid', detail: mismatchDetail(secrets) });
    }
    return ok({});
  };
}

function mismatchDetail(secrets: string[]): string {
  if (!secrets.some((s) => s !== '')) return 'no signature matched: the source has no non-empty signature key configured';
  const whitespace = whitespaceHint(secrets);
  return (
    // The URL is not echoed: the detail goes back to the caller, and a URL may carry a token.
    'no signature matched: was the body re-serialised (verify the raw bytes), is the notification URL ' +
    'configured for this source exactly the one in the Square subscription (scheme, host, path, query, ' +
    `trailing slash), or is this the signature key of another subscription?${whitespace}`
  );
}
