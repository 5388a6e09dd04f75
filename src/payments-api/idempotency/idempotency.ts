/**
 * Idempotency keys of the payments API (docs/http-api.md "Payments"; sources:
 * draft-ietf-httpapi-idempotency-key-header, https://docs.stripe.com/api/idempotent_requests):
 * scoped to the merchant, bound to a request fingerprint, kept 24 h. Execution follows
 * brandur.org/idempotency-keys: atomic phases, each committing its effects with the next
 * recovery point; a retry takes over a crashed request's key once its lock times out.
 */
import { AppError } from '../../core/errors.js';
import type { Tx } from '../../core/db/client.js';
import type { Deps } from '../../core/deps.js';
import { requestFingerprint } from './fingerprint.js';
import {
  deleteKey,
  finishKey,
  insertOrLockKey,
  lockKey,
  lockOwnedKey,
  releaseKey,
  setRecoveryPoint,
  type IdempotencyKeyRow,
} from './idempotency-store.js';

/** How long a key is kept and replays, seconds (24 h, as Stripe and docs/http-api.md). */
const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 60 * 60;
/** Default age after which a key's lock counts as abandoned by a crashed request, seconds. */
const DEFAULT_LOCK_TIMEOUT_SECONDS = 60;
/** Set on a replayed response (Stripe's header name; the draft leaves it to the server). */
const REPLAYED_HEADER = 'Idempotent-Replayed';

/** A response as stored with a finished key: HTTP status and JSON body (text, replayed byte for byte). */
interface StoredResponse {
  status: number;
  body: string;
}

/**
 * What one atomic phase ends with: the next recovery point, the final response (stored under the key and replayed),
 * or a `refusal` made before any work started (not stored: the key is freed, so a corrected request, or the same one
 * once the cause is fixed, may use it; https://docs.stripe.com/idempotency "We save results only after the execution
 * of an endpoint begins").
 */
export type PhaseOutcome =
  | { next: string; operationId?: string }
  | { response: { status: number; body: unknown } }
  | { refusal: { status: number; body: unknown } };

/** The request a key is being claimed for. `params` is the validated body (stored for recovery). */
interface IdempotentRequest {
  merchantId: string;
  key: string;
  method: string;
  path: string;
  params: unknown;
}

/** A claimed key: replay a stored response, or run (or resume) from `recoveryPoint` holding the lock. */
export type Claim = { kind: 'replay'; response: StoredResponse } | { kind: 'run'; key: IdempotencyKeyRow; lockedAt: Date };

/**
 * Claims `(merchant, key)` for `req` in one transaction, so all API processes agree:
 * - no row (or an expired one) → inserted and locked → run from `started`;
 * - a different fingerprint → throws 422 `idempotency_key_reused`;
 * - finished → replay its stored response;
 * - locked less than `lockTimeoutSeconds` ago → throws 409 `idempotency_key_in_progress`;
 * - otherwise (released, or its request crashed) → locked, resumed at its recovery point.
 */
export async function claimIdempotencyKey(
  deps: Deps,
  req: IdempotentRequest,
  options: { lockTimeoutSeconds?: number } = {},
): Promise<Claim> {
  const now = deps.clock();
  const fingerprint = await requestFingerprint(req.method, req.path, req.params);
  const expiresAt = new Date(now.getTime() + IDEMPOTENCY_KEY_TTL_SECONDS * 1000);
  const lockTimeoutMs = (options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS) * 1000;
  return deps.sql.begin(async (tx) => {
    const input = { ...req, fingerprint, now, expiresAt };
    let { row, inserted } = await insertOrLockKey(tx, input);
    if (!inserted && row.expiresAt.getTime() <= now.getTime()) {
      // Kept past its 24 h but not purged yet: a new request, as if the key were gone.
      await deleteKey(tx, row.id);
      ({ row, inserted } = await insertOrLockKey(tx, input));
    }
    if (inserted) return { kind: 'run', key: row, lockedAt: now } as const;
    if (row.requestFingerprint !== fingerprint) {
      throw new AppError(
        'idempotency_key_reused',
        422,
        `This Idempotency-Key was used with a different request (${row.requestMethod} ${row.requestPath} with other parameters). Use a new key for a new request.`,
      );
    }
    if (row.status === 'finished') {
      return { kind: 'replay', response: { status: row.responseStatus!, body: row.responseBody! } } as const;
    }
    if (row.lockedAt && now.getTime() - row.lockedAt.getTime() < lockTimeoutMs) {
      throw new AppError(
        'idempotency_key_in_progress',
        409,
        'A request with this Idempotency-Key is still being processed. Retry later; it will answer with the first response.',
        { retryable: true },
      );
    }
    await lockKey(tx, row.id, now);
    return { kind: 'run', key: { ...row, lockedAt: now }, lockedAt: now } as const;
  });
}

/**
 * Runs `work` in its own transaction and commits its effects with the key's next recovery
 * point or final response; a `refusal` deletes the key instead. Throws 409
 * `idempotency_key_in_progress` if a retry took the key over.
 */
export async function atomicPhase(
  deps: Deps,
  claim: Extract<Claim, { kind: 'run' }>,
  work: (tx: Tx, key: IdempotencyKeyRow) => Promise<PhaseOutcome>,
): Promise<PhaseOutcome> {
  return deps.sql.begin(async (tx) => {
    const key = await lockOwnedKey(tx, claim.key.id, claim.lockedAt);
    if (!key) {
      throw new AppError('idempotency_key_in_progress', 409, 'Another request took this Idempotency-Key over; retry to get its response.', {
        retryable: true,
      });
    }
    const outcome = await work(tx, key);
    if ('next' in outcome) await setRecoveryPoint(tx, key.id, outcome.next, outcome.operationId);
    else if ('refusal' in outcome) await deleteKey(tx, key.id);
    else await finishKey(tx, key.id, { status: outcome.response.status, body: JSON.stringify(outcome.response.body) });
    return outcome;
  });
}

/** A phase: given the key, does its work through {@link atomicPhase} (a foreign call may sit between two) and returns the last outcome. */
type Phase = (key: IdempotencyKeyRow) => Promise<PhaseOutcome>;

/**
 * Runs `phases` from the key's recovery point until one returns a response, and returns it.
 * On an exception, releases the lock (a retry may resume at once) and rethrows; throws an
 * Error when a recovery point has no phase.
 */
export async function runPhases(
  deps: Deps,
  claim: Extract<Claim, { kind: 'run' }>,
  phases: Record<string, Phase>,
): Promise<StoredResponse> {
  let key = claim.key;
  try {
    for (;;) {
      const phase = phases[key.recoveryPoint];
      if (!phase) throw new Error(`no phase for recovery point ${key.recoveryPoint}`);
      const outcome = await phase(key);
      if ('refusal' in outcome) return { status: outcome.refusal.status, body: JSON.stringify(outcome.refusal.body) };
      if ('response' in outcome) return { status: outcome.response.status, body: JSON.stringify(outcome.response.body) };
      key = { ...key, recoveryPoint: outcome.next, operationId: outcome.operationId ?? key.operationId };
    }
  } catch (error) {
    await releaseKey(deps.sql, claim.key.id, claim.lockedAt).catch(() => undefined);
    throw error;
  }
}

/** The HTTP response for a stored or fresh result; `replayed` adds `Idempotent-Replayed: true`. */
export function idempotentResponse(response: StoredResponse, replayed: boolean): Response {
  return new Response(response.body, {
    status: response.status,
    headers: {
      'content-type': response.status >= 400 ? 'application/problem+json' : 'application/json',
      ...(replayed ? { [REPLAYED_HEADER]: 'true' } : {}),
    },
  });
}
