import type { SlotLeases } from './slot-leases.js';

/**
 * Deliveries in flight per endpoint in this worker process: at most max_in_flight (capped by `maxPerEndpoint`) and,
 * with `leases`, at most this process's share of the endpoint's max_in_flight across every process
 * ({@link SlotLeases}; without, N processes allow N × max_in_flight). When an endpoint's slots are taken, a job
 * for a fast endpoint waits briefly, one for a slow or hanging endpoint is put off at once, so one bad endpoint
 * cannot hold the workers; so is one whose share here is none (the other processes hold its slots). Slow: an
 * exponentially weighted mean above `slowMs`, or an attempt in flight longer than 20 × that mean (100 ms to
 * `slowMs`; `slowMs` while the mean is unknown). While the mean is unknown, at most `max` attempts wait; a further
 * one is put off too.
 */
export class EndpointSlots {
  private readonly started = new Map<string, Set<{ at: number }>>();
  private readonly waiters = new Map<string, ((slot: { at: number }) => void)[]>();
  private readonly meanMs = new Map<string, number>();

  /**
   * @param slowMs an endpoint slower than this (ms) gets no waiting
   * @param maxWaitMs the longest a job waits for a slot of a fast endpoint (ms)
   * @param now the clock, ms
   * @param maxPerEndpoint slots per endpoint at most, whatever its max_in_flight: the runner passes a quarter of
   *   its concurrency, so a hanging endpoint holds at most a quarter of the process's workers
   * @param leases this process's shares of the caps shared with other processes; none: a cap per process
   */
  constructor(
    private readonly slowMs = 500,
    private readonly maxWaitMs = 250,
    private readonly now: () => number = Date.now,
    private readonly maxPerEndpoint = Infinity,
    private readonly leases?: SlotLeases,
  ) {}

  /**
   * Takes a slot for `endpointId` if fewer than `maxInFlight` (capped by maxPerEndpoint) are taken, or waits for
   * one (fast endpoints only, at most `waitMs` ms). Resolves to the slot's release, or undefined: put the job off.
   */
  async acquire(endpointId: string, maxInFlight: number, waitMs = this.maxWaitMs): Promise<(() => void) | undefined> {
    const limit = Math.min(maxInFlight, this.maxPerEndpoint);
    let inFlight = this.started.get(endpointId) ?? new Set<{ at: number }>();
    this.started.set(endpointId, inFlight);
    if (inFlight.size < this.cap(endpointId, limit)) return this.take(endpointId, inFlight, { at: this.now() }, limit);
    if (this.leases && this.leases.usable(endpointId) < limit) {
      await this.leases.grow(endpointId, limit);
      // A release meanwhile may have dropped the (then empty) set, and another acquire made a new one.
      inFlight = this.started.get(endpointId) ?? inFlight;
      this.started.set(endpointId, inFlight);
      const waiting = this.waiters.get(endpointId)?.length ?? 0;
      if (inFlight.size + waiting < this.cap(endpointId, limit)) return this.take(endpointId, inFlight, { at: this.now() }, limit);
      // No share here: no attempt of this process will end to free one.
      if (this.leases.usable(endpointId) === 0) return this.leave(endpointId, inFlight);
    }
    const max = this.cap(endpointId, limit);
    if (this.isSlow(endpointId, inFlight)) return this.leave(endpointId, inFlight);
    if (!this.meanMs.has(endpointId) && (this.waiters.get(endpointId)?.length ?? 0) >= max) return this.leave(endpointId, inFlight);
    // Also stop waiting when the endpoint turns slow: a hanging endpoint's jobs must not hold workers all the wait.
    const started = this.now();
    const slot = await new Promise<{ at: number } | undefined>((resolve) => {
      const queue = this.waiters.get(endpointId) ?? [];
      this.waiters.set(endpointId, queue);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const handOver = (s: { at: number }) => {
        clearTimeout(timer);
        resolve(s);
      };
      const check = (): void => {
        const now = this.now();
        const left = started + waitMs - now;
        if (left <= 0 || this.isSlow(endpointId, inFlight)) {
          const i = queue.indexOf(handOver);
          if (i >= 0) queue.splice(i, 1);
          resolve(undefined);
          return;
        }
        let oldest = Infinity;
        for (const s of inFlight) oldest = Math.min(oldest, s.at);
        const untilSlow = oldest === Infinity ? left : oldest + this.slowAfterMs(endpointId) - now + 1;
        timer = setTimeout(check, Math.max(1, Math.min(left, untilSlow)));
      };
      queue.push(handOver);
      check();
    });
    return slot ? this.take(endpointId, inFlight, slot, limit) : this.leave(endpointId, inFlight);
  }

  /** The slots of `endpointId` this process may fill: `limit`, or less when its leased share is smaller. */
  private cap(endpointId: string, limit: number): number {
    return this.leases ? Math.min(limit, this.leases.usable(endpointId)) : limit;
  }

  /** Forgets the endpoint's bookkeeping once empty (an endpoint turned away leaves nothing behind); undefined. */
  private leave(endpointId: string, inFlight: Set<{ at: number }>): undefined {
    if (inFlight.size === 0 && !this.waiters.get(endpointId)?.length) {
      this.started.delete(endpointId);
      this.waiters.delete(endpointId);
    }
    return undefined;
  }

  /** Slots taken for an endpoint now. */
  taken(endpointId: string): number {
    return this.started.get(endpointId)?.size ?? 0;
  }

  /**
   * Whether `endpointId` is slow now (see the class): a job {@link acquire} put off then comes back in seconds;
   * otherwise the endpoint was only busy, and a short delay will do.
   */
  isSlowNow(endpointId: string): boolean {
    const inFlight = this.started.get(endpointId);
    return inFlight ? this.isSlow(endpointId, inFlight) : (this.meanMs.get(endpointId) ?? 0) > this.slowMs;
  }

  private isSlow(endpointId: string, inFlight: Set<{ at: number }>): boolean {
    if ((this.meanMs.get(endpointId) ?? 0) > this.slowMs) return true;
    const now = this.now();
    const after = this.slowAfterMs(endpointId);
    for (const s of inFlight) if (now - s.at > after) return true;
    return false;
  }

  /** How long an attempt in flight to `endpointId` may run before the endpoint counts as slow, ms. */
  private slowAfterMs(endpointId: string): number {
    const mean = this.meanMs.get(endpointId);
    return mean === undefined ? this.slowMs : Math.min(this.slowMs, Math.max(100, mean * 20));
  }

  private take(endpointId: string, inFlight: Set<{ at: number }>, slot: { at: number }, limit: number): () => void {
    slot.at = this.now();
    inFlight.add(slot);
    this.leases?.started(endpointId, limit);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      inFlight.delete(slot);
      this.leases?.ended(endpointId);
      const duration = this.now() - slot.at;
      const mean = this.meanMs.get(endpointId);
      this.meanMs.set(endpointId, mean === undefined ? duration : mean * 0.8 + duration * 0.2);
      // Not past a share that shrank meanwhile: the waiter then gives up at the end of its wait.
      const next = inFlight.size < this.cap(endpointId, limit) ? this.waiters.get(endpointId)?.shift() : undefined;
      if (next) next({ at: this.now() });
      else this.leave(endpointId, inFlight);
    };
  }
}
