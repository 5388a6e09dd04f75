import type { Tx } from '../db/client.js';

/** One GCRA decision (sql/0085_rate_limits.sql): allowed or not, units left, ms until the burst is whole, ms until the next unit. */
export interface RateLimitTake {
  allowed: boolean;
  remaining: number;
  resetMs: number;
  /** 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Takes one unit for `key` at `now` under a limit of `perSecond` on average with bursts of `burst`, in one statement
 * (`gw.rate_limit_take`); every process sharing the database shares the limit. Throws the database's error.
 */
export async function takeRateLimit(tx: Tx, key: string, now: Date, perSecond: number, burst: number): Promise<RateLimitTake> {
  const [row] = await tx<{ allowed: boolean; remaining: number; resetMs: string; retryAfterMs: string }[]>`
    select allowed, remaining, reset_ms as "resetMs", retry_after_ms as "retryAfterMs"
      from gw.rate_limit_take(${key}, ${now}, ${1000 / perSecond}, ${burst})`;
  if (!row) throw new Error('gw.rate_limit_take returned no row');
  return { allowed: row.allowed, remaining: row.remaining, resetMs: Number(row.resetMs), retryAfterMs: Number(row.retryAfterMs) };
}
