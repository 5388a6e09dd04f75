import { fromBase64, fromHex, importHmacKey, utf8, verifyHmac } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier, VerifyInput } from './types.js';

/** Signature headers longer than this are refused unread (characters). */
export const MAX_SIGNATURE_HEADER_LENGTH = 4096;

/**
 * True when any of `signatures` is the HMAC of `data` under any of `keys` (raw bytes), compared
 * in constant time. Zero-length keys, which Web Crypto refuses, are skipped.
 */
export async function matchesAnyKey(
  keys: Uint8Array[],
  signatures: Uint8Array[],
  data: Uint8Array,
  hash: 'SHA-256' | 'SHA-512' = 'SHA-256',
): Promise<boolean> {
  for (const raw of keys) {
    if (raw.byteLength === 0) continue;
    const key = await importHmacKey(raw, hash);
    for (const signature of signatures) if (await verifyHmac(key, signature, data)) return true;
  }
  return false;
}

/** '; note: …' when a configured secret has leading or trailing whitespace, else ''. */
export function whitespaceHint(secrets: string[]): string {
  return secrets.some((s) => s !== s.trim()) ? '; note: a configured secret has leading or trailing whitespace, trim it' : '';
}

/** How a PSP signs the raw body with one HMAC in one header (Razorpay, Checkout.com, Paystack, GoCardless). */
interface BodyHmacScheme {
  /** Lower-cased header name. */
  header: string;
  hash: 'SHA-256' | 'SHA-512';
  encoding: 'hex' | 'base64';
  /** The PSP's name, for messages. */
  psp: string;
  /** What the secret is called at the PSP, for the mismatch hint ("webhook secret set on the Dashboard webhook"). */
  secretName: string;
  /** What a person most likely pasted instead of the secret ("the API key secret"). */
  likelyMistake: string;
  /** The signed bytes; the raw body by default. */
  signedContent?: (body: Uint8Array) => Uint8Array;
  /** A header carrying the event id, returned on success (Razorpay: x-razorpay-event-id). */
  eventIdHeader?: string;
  /** Extra words for a missing header, given the request's headers. */
  missingHint?: (headers: VerifyInput['headers']) => string;
  /** Extra words for a malformed header value (GoCardless: a Standard Webhooks value). */
  malformedHint?: (header: string) => string;
}

/**
 * A Verifier for one HMAC of the raw body (or `signedContent`) keyed by the secret's UTF-8,
 * in one header. No timestamp is signed: replays are caught by the unique event id. Fails
 * `signature_missing` (no header) or `signature_invalid`; never throws.
 */
export function makeBodyHmacVerifier(scheme: BodyHmacScheme): Verifier {
  const bytes = scheme.hash === 'SHA-256' ? 32 : 64;
  const malformed =
    `malformed ${scheme.header} header: expected ` +
    (scheme.encoding === 'hex' ? `${bytes * 2} hex characters` : `the base64 of ${bytes} bytes`) +
    ` (an HMAC-${scheme.hash.replace('-', '')})`;
  return async ({ body, headers, secrets }) => {
    const header = headers[scheme.header];
    if (!header) {
      return err({
        code: 'signature_missing',
        detail:
          `no ${scheme.header} header: is this request from ${scheme.psp}, and does every proxy on the way forward the header?` +
          (scheme.missingHint?.(headers) ?? ''),
      });
    }
    if (header.length > MAX_SIGNATURE_HEADER_LENGTH) {
      return err({ code: 'signature_invalid', detail: `${malformed}; it is longer than ${MAX_SIGNATURE_HEADER_LENGTH} characters` });
    }
    const signature = scheme.encoding === 'hex' ? fromHex(header.trim()) : fromBase64(header.trim());
    if (!signature || signature.byteLength !== bytes) {
      return err({ code: 'signature_invalid', detail: malformed + (scheme.malformedHint?.(header) ?? '') });
    }

    const content = scheme.signedContent ? scheme.signedContent(body) : body;
    if (!(await matchesAnyKey(secrets.map(utf8), [signature], content, scheme.hash))) {
      const detail = secrets.some((s) => s !== '')
        ? `no signature matched: was the body re-serialised (verify the raw bytes), or is this ${scheme.likelyMistake} ` +
          `rather than the ${scheme.secretName}?${whitespaceHint(secrets)}`
        : `no signature matched: the source has no non-empty ${scheme.secretName} configured`;
      return err({ code: 'signature_invalid', detail });
    }
    const eventId = scheme.eventIdHeader ? headers[scheme.eventIdHeader] : undefined;
    return ok(eventId && eventId.length <= 255 ? { eventId } : {});
  };
}
