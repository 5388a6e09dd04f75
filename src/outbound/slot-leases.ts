// (node) This worker process's shares of the endpoints' delivery caps: leased in PostgreSQL, renewed in the background.
import { randomUUID } from 'node:crypto';
import type { Sql } from '../core/db/client.js';
import type { Log } from '../core/deps.js';
import { dropSlotLeases, leaseEndpointSlots, type LeaseRequest } from './slot-lease-store.js';

/** A lease lives this long unless renewed, ms: a killed process's slots are free again after it. */
const LEASE_TTL_MS = 10_000;
/** Leases are renewed (and shares rebalanced) this often, ms. */
const RENEW_EVERY_MS = 1_000;
/** An endpoint's lease is grown at most this often on demand, ms: a process refused a share does not ask on every job. */
const GROW_EVERY_MS = 250;

/** What this process knows of its share of one endpoint. */
interface Share {
  /** Slots this process may have attempts in (the lease's answer). */
  usable: number;
  /** Local clock, ms: no attempt starts on this share after it unless a renewal answers. */
  validUntil: number;
  /** Attempts in flight. */
  inUse: number;
  /** The most slots wanted since the last renewal (attempts in flight, or the whole limit when one had to grow). */
  peak: number;
  /** The most this process could use: the endpoint's max_in_flight, capped per process. */
  limit: number;
  /** Local clock, ms: when the share was last grown on demand. */
  grownAt: number;
  /** The grow on its way, if any. */
  growing?: Promise<void>;
}

/** One lease statement waiting to run: the endpoints to sync, or all of them (a renewal). */
interface Batch {
  ids: Set<string>;
  all: boolean;
  done: Promise<void>;
}

/**
 * The slots of each endpoint this process may use, out of its `max_in_flight` shared by every worker process
 * (sql/0030_endpoint_slot_leases.sql). An attempt takes a slot locally ({@link EndpointSlots} asks
 * {@link usable}); only a process that needs more than its share asks the database ({@link grow}, one round trip,
 * at most every 250 ms per endpoint). Every second one statement renews all its leases, reporting the attempts in
 * flight and the slots wanted: idle shares are given back, and a process holding more than its fair share while
 * another wants more shrinks as its attempts end. Lease statements of this process run one at a time, so a late
 * answer never overrides a newer one. A lease not renewed for 10 s expires (a killed process); a process that
 * cannot renew stops starting attempts when its own lease may have expired.
 */
export class SlotLeases {
  /** This process's name in the leases: random per start. */
  readonly holder = `w${process.pid}-${randomUUID()}`;
  private readonly shares = new Map<string, Share>();
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly now: () => number;
  private tail: Promise<void> = Promise.resolve();
  private batch: Batch | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  /**
   * @param sql the pool the lease statements use (one connection, about once a second)
   * @param options `ttlMs` (10 s) and `renewMs` (1 s) for tests; `logger` for failed renewals; `now` the clock, ms
   */
  constructor(
    private readonly sql: Sql,
    private readonly options: { ttlMs?: number; renewMs?: number; logger?: Log; now?: () => number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? LEASE_TTL_MS;
    this.renewMs = options.renewMs ?? RENEW_EVERY_MS;
    this.now = options.now ?? Date.now;
  }

  /** Starts the background renewal (an unref'd timer). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.shares.size > 0) void this.renewNow();
    }, this.renewMs);
    this.timer.unref();
  }

  /** Stops renewing and drops this process's leases (their slots are free at once); errors are logged, not thrown. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.tail;
    try {
      await dropSlotLeases(this.sql, this.holder);
    } catch (err) {
      this.options.logger?.warn({ err }, 'could not drop the endpoint slot leases; they expire by themselves');
    }
    this.shares.clear();
  }

  /** Renews every lease of this process now (the background timer's work); never rejects, a failure is logged. */
  renewNow(): Promise<void> {
    return this.enqueue(null);
  }

  /** Slots of `endpointId` this process may have attempts in now: 0 without a lease, or once it may have expired. */
  usable(endpointId: string): number {
    const s = this.shares.get(endpointId);
    return s && this.now() < s.validUntil ? s.usable : 0;
  }

  /** Counts an attempt started on the share (`limit`: the most this process could use of the endpoint). */
  started(endpointId: string, limit: number): void {
    const s = this.share(endpointId, limit);
    s.inUse += 1;
    s.peak = Math.max(s.peak, s.inUse);
  }

  /** Counts an attempt ended. */
  ended(endpointId: string): void {
    const s = this.shares.get(endpointId);
    if (s) s.inUse = Math.max(0, s.inUse - 1);
  }

  /**
   * Asks the database for up to `limit` slots of `endpointId` (what the other processes leave, less while they want
   * their fair share); resolves once answered, or at once when it was asked in the last 250 ms. Never rejects: a
   * failure is logged and the share stays as it was.
   */
  async grow(endpointId: string, limit: number): Promise<void> {
    if (this.stopped) return;
    const s = this.share(endpointId, limit);
    if (s.growing) return s.growing; // the answer on its way is this caller's too
    const now = this.now();
    if (now - s.grownAt < GROW_EVERY_MS) return;
    s.grownAt = now;
    s.peak = Math.max(s.peak, limit);
    const growing = this.enqueue(endpointId).finally(() => {
      if (s.growing === growing) s.growing = undefined;
    });
    s.growing = growing;
    await growing;
  }

  private share(endpointId: string, limit: number): Share {
    let s = this.shares.get(endpointId);
    if (!s) {
      s = { usable: 0, validUntil: 0, inUse: 0, peak: 0, limit, grownAt: -Infinity };
      this.shares.set(endpointId, s);
    }
    s.limit = limit;
    return s;
  }

  /** Joins the next lease statement (one endpoint, or null for all: a renewal); resolves once it ran. */
  private enqueue(endpointId: string | null): Promise<void> {
    if (!this.batch) {
      const batch: Batch = { ids: new Set(), all: false, done: Promise.resolve() };
      batch.done = this.tail.then(() => {
        if (this.batch === batch) this.batch = undefined;
        return this.sync(batch);
      });
      this.tail = batch.done;
      this.batch = batch;
    }
    if (endpointId === null) this.batch.all = true;
    else this.batch.ids.add(endpointId);
    return this.batch.done;
  }

  private async sync(batch: Batch): Promise<void> {
    const ids = batch.all ? new Set([...this.shares.keys(), ...batch.ids]) : batch.ids;
    const requests: LeaseRequest[] = [];
    for (const endpointId of ids) {
      const s = this.shares.get(endpointId);
      if (!s) continue;
      // Attempts may start on the current share until the answer arrives: the lease keeps at least that share, and
      // shrinks on the next statement, once this one's smaller answer has stopped new starts.
      requests.push({ endpointId, inUse: Math.max(s.inUse, s.usable), wanted: Math.min(s.limit, Math.max(s.peak, s.inUse)) });
      // A renewal starts a new window: what is wanted from now on is what will be in flight.
      if (batch.all) s.peak = s.inUse;
    }
    const sentAt = this.now();
    try {
      const grants = await leaseEndpointSlots(this.sql, this.holder, requests, this.ttlMs);
      const asked = new Map(requests.map((r) => [r.endpointId, r]));
      for (const g of grants) {
        const s = this.shares.get(g.endpointId);
        if (!s) continue;
        s.usable = g.usable;
        s.validUntil = sentAt + g.validMs;
        // Forgotten once the database dropped the lease (nothing used or wanted) and nothing started since.
        const r = asked.get(g.endpointId);
        if (r?.inUse === 0 && r.wanted === 0 && s.inUse === 0 && s.peak === 0) this.shares.delete(g.endpointId);
      }
    } catch (err) {
      this.options.logger?.warn({ err, endpoints: requests.length }, 'could not lease endpoint slots; retrying');
    }
  }
}
