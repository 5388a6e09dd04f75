import type { Result } from '../../core/result.js';

/** What a verifier sees of one PSP callback; verifiers are pure (no I/O, no clock of their own). */
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
  /** The absolute request URL with its query string; only Mercado Pago's verifier reads it. */
  url?: string;
}

/** Why a callback was rejected: no signature header, a bad or unmatched signature, or a stale timestamp. */
type VerifyFailureCode = 'signature_missing' | 'signature_invalid' | 'timestamp_out_of_tolerance';

/** A rejection; `detail` names the likely cause and never holds a secret or expected signature. */
interface VerifyFailure {
  code: VerifyFailureCode;
  detail: string;
}

/** A verified callback; `eventId` when the scheme carries the event id in a header. */
interface Verified {
  eventId?: string;
}

/** `ok(Verified)` or `err(VerifyFailure)`; verifiers never throw on bad input. */
type VerifyResult = Result<Verified, VerifyFailure>;

/**
 * Checks one PSP callback against the source's secrets.
 *
 * @example
 * const r = await verifyStripe({ body, headers, secrets: [secret], toleranceSeconds: 300, now: clock() });
 * if (!r.ok) return unauthorized(r.error.code, r.error.detail);
 */
export type Verifier = (input: VerifyInput) => Promise<VerifyResult>;
