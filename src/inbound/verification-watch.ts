// Per-source verification failure rates, in memory per process (or isolate), for the `inbound.source_failing`
// operational webhook: a source whose share of requests failing verification passes a threshold.

/** When a source counts as failing: at least `minRequests` in a window of `windowMs` and a failure share ≥ `rate`. */
export interface FailingPolicy {
  rate: number;
  minRequests: number;
  windowMs: number;
}

/** A source's counts in the window that just crossed the threshold. */
export interface FailingSource {
  requests: number;
  failures: number;
  windowStart: Date;
}

interface Window {
  start: number;
  requests: number;
  failures: number;
  alerted: boolean;
}

/** Sources tracked at most; past it the oldest goes (an attacker's made-up source ids never resolve, so never count). */
const MAX_SOURCES = 10_000;

/**
 * Counts verified and refused requests per source in fixed windows; {@link record} answers the window's counts once,
 * the first time in a window that the source passes the policy.
 * @example
 * const failing = watch.record('src_…', false, Date.now());
 * if (failing) alertOperator(failing);
 */
export class VerificationWatch {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly policy: FailingPolicy) {}

  /** Counts one request to `sourceId` at `nowMs` (epoch ms); `verified` false for a refused signature or timestamp. */
  record(sourceId: string, verified: boolean, nowMs: number): FailingSource | undefined {
    let w = this.windows.get(sourceId);
    if (!w || nowMs - w.start >= this.policy.windowMs) {
      w = { start: nowMs, requests: 0, failures: 0, alerted: false };
      this.windows.delete(sourceId);
      this.windows.set(sourceId, w);
      if (this.windows.size > MAX_SOURCES) this.windows.delete(this.windows.keys().next().value!);
    }
    w.requests += 1;
    if (!verified) w.failures += 1;
    if (w.alerted || w.requests < this.policy.minRequests || w.failures / w.requests < this.policy.rate) return undefined;
    w.alerted = true;
    return { requests: w.requests, failures: w.failures, windowStart: new Date(w.start) };
  }
}
