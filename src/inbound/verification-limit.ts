// Requests failing verification on /inbound/{sourceId}, limited per source and client address (README "Rate limits").
import type { Tx } from '../core/db/client.js';
import { rateLimitHeaders, type RateLimitPolicy } from '../core/rate-limit/rate-limit.js';
import { takeRateLimit, type RateLimitTake } from '../core/rate-limit/rate-limit-store.js';

// Entries kept before expired ones are swept; an attacker with many addresses cannot grow the map without bound.
const SWEEP_AT = 10_000;

/**
 * The limit on inbound requests that fail verification: SWITCHYARD_INBOUND_FAILURES_PER_MINUTE per source and client
 * address, counted in PostgreSQL (`gw.rate_limit_take`, so every process shares it) only when a request failed, so a
 * verified event costs nothing. Once a failure is refused, this process remembers the pair as blocked until the next
 * unit is due, and {@link blockedFor} answers from memory, before the verifier runs. Web APIs only (Workers).
 */
export class VerificationFailureLimit {
  readonly policy: RateLimitPolicy;
  // key → ms since the epoch when the pair may fail again.
  readonly #blockedUntil = new Map<string, number>();

  constructor(perMinute: number) {
    this.policy = { name: 'inbound-unverified', perSecond: perMinute / 60, burst: perMinute };
  }

  /** The refusal to answer from memory when the pair is blocked at `nowMs`, else undefined (run the verifier). */
  blockedFor(sourceId: string, address: string, nowMs: number): RateLimitTake | undefined {
    const key = keyOf(sourceId, address);
    const until = this.#blockedUntil.get(key);
    if (until === undefined) return undefined;
    if (until <= nowMs) {
      this.#blockedUntil.delete(key);
      return undefined;
    }
    return { allowed: false, remaining: 0, resetMs: until - nowMs, retryAfterMs: until - nowMs };
  }

  /**
   * Counts one failed verification of the pair at `now` (one statement); when it is past the limit, remembers the
   * pair as blocked. Throws the database's error.
   */
  async recordFailure(tx: Tx, sourceId: string, address: string, now: Date): Promise<RateLimitTake> {
    const key = keyOf(sourceId, address);
    const take = await takeRateLimit(tx, key, now, this.policy.perSecond, this.policy.burst);
    if (!take.allowed) {
      if (this.#blockedUntil.size >= SWEEP_AT) this.#sweep(now.getTime());
      this.#blockedUntil.set(key, now.getTime() + take.retryAfterMs);
    }
    return take;
  }

  /** The RateLimit headers (and Retry-After when refused) for `take`. */
  headers(take: RateLimitTake): Record<string, string> {
    return rateLimitHeaders(this.policy, take);
  }

  #sweep(nowMs: number): void {
    for (const [key, until] of this.#blockedUntil) if (until <= nowMs) this.#blockedUntil.delete(key);
    // Still full of live blocks: forget them all; each pair is blocked again at its next failure.
    if (this.#blockedUntil.size >= SWEEP_AT) this.#blockedUntil.clear();
  }
}

function keyOf(sourceId: string, address: string): string {
  return `inbound:${sourceId}:${address}`;
}
