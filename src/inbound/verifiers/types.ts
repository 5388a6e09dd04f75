import type { Result } from '../../core/result.js';

/**
 * What a verifier sees of one inbound PSP callback. Verifiers are pure: no I/O, no clock
 * of their own, so the same input always gives the same {@link VerifyResult}.
 */
export interface VerifyInput {
  /** Raw request bytes exactly as received; verifying a re-serialised body always fails. */
  body: Uint8Array;
  /** Request headers with lower-cased names. */
  headers: Record<string, string>;
  /** Every active signing secret of the source, in the PSP's own format; any may match (rotation). */
  secrets: string[];
  /** Allowed distance between the signed timestamp and `now`, in seconds; always > 0 (there is no "0 = off"). */
  toleranceSeconds: number;
  /** The instant the request was received; injected so tests can fix the clock. */
  now: Date;
  /**
   * The request URL as received (absolute, with its query string), when the caller has it.
   * Only Mercado Pago reads it: it signs the `data.id` of the query string it appends.
   */
  url?: string;
}

/**
 * Why a callback was rejected:
 * - `signature_missing`: the signature header(s) are absent.
 * - `signature_invalid`: a malformed header, an unusable secret, or no signature matched.
 * - `timestamp_out_of_tolerance`: the signed timestamp is further than `toleranceSeconds` from `now`.
 */
type VerifyFailureCode = 'signature_missing' | 'signature_invalid' | 'timestamp_out_of_tolerance';

/**
 * A rejection with an actionable `detail` for the developer, e.g. "no v1 signature matched:
 * was the body re-serialised…?". `detail` never contains a secret or an expected signature.
 */
interface VerifyFailure {
  code: VerifyFailureCode;
  detail: string;
}

/** A verified callback; `eventId` is set when the scheme signs the event id in a header (Standard Webhooks: `webhook-id`). */
interface Verified {
  eventId?: string;
}

/** Outcome of a verifier: `ok(Verified)` or `err(VerifyFailure)`; verifiers never throw on bad input. */
type VerifyResult = Result<Verified, VerifyFailure>;

/**
 * Checks one PSP callback against the source's secrets.
 *
 * @example
 * const r = await verifyStripe({ body, headers, secrets: [secret], toleranceSeconds: 300, now: clock() });
 * if (!r.ok) return unauthorized(r.error.code, r.error.detail);
 */
export type Verifier = (input: VerifyInput) => Promise<VerifyResult>;
