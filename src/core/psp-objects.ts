// Verify or fetch (README "Verify or fetch"): the object reads processing asks of a PSP for sources with
// `trust: fetch`. The reads go through the payments API connectors (src/payments-api/psp-objects.ts), which
// src/app puts in Deps; the processing code (src/inbound) sees only these types.
import type { Deps } from './deps.js';

/** The Stripe object types a `trust: fetch` source reads back (https://docs.stripe.com/api). */
export type PspObjectType = 'payment_intent' | 'charge' | 'refund' | 'dispute';

/** One object to read from the PSP: its type and the PSP's id (`pi_…`, `ch_…`, `re_…`, `dp_…`). */
export interface PspObjectRef {
  type: PspObjectType;
  id: string;
}

/**
 * What the PSP said of one object:
 * - `found`: its current state, the PSP's JSON as it answered it;
 * - `not_found`: the PSP does not know it (404): the event is failed, never applied;
 * - `refused`: the call cannot succeed as configured (API key refused, `apiBaseUrl` not allowed, no API key): failed;
 * - `unavailable`: timeout, network error, 5xx or 429: try again later.
 */
export type PspObjectRead = { kind: 'found'; object: unknown } | { kind: 'not_found' | 'refused' | 'unavailable'; reason: string };

/** Options of one {@link PspObjectReader} call. */
export interface PspObjectReadOptions {
  /** The fetch to use (tests); default `deps.pspFetch`, else the global one. */
  fetch?: typeof fetch;
  /** Per-call timeout, ms (default the connectors' 15 000). */
  timeoutMs?: number;
}

/**
 * Reads `refs` from the PSP account of the merchant's source, one result per ref in order. Loads the source's
 * credentials once. Throws only database errors (and `secret_unreadable` when the API key cannot be opened).
 */
export type PspObjectReader = (
  deps: Deps,
  source: { merchantId: string; sourceId: string },
  refs: readonly PspObjectRef[],
  options?: PspObjectReadOptions,
) => Promise<PspObjectRead[]>;
