// Group commit for the inbound route: concurrent requests share one statement, one
// processing job and one commit. Plain timers only, so it also loads on Workers.
import type { Tx } from '../core/db/client.js';
import { isStatementRefusal } from '../core/db/errors.js';
import { storeInboundBatch, type NewInboundEvent, type StoredInboundBatch, type StoredInboundEvent } from './inbound-event-store.js';
import type { ProcessingHandoff } from '../core/jobs/processing-handoff.js';
import { newId } from '../core/ids.js';

/** The timer a {@link Batcher} waits with; injectable so tests drive the window by hand. */
export interface BatchTimer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** `setTimeout`/`clearTimeout`, on Node and on Workers alike. */
const systemTimer: BatchTimer = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** How a {@link Batcher} groups items. */
interface BatcherOptions<T, R> {
  /** Writes one batch; one result per item, in order. A rejection rejects every item, unless `isolate` claims it. */
  run(items: T[]): Promise<R[]>;
  /**
   * True when `run`'s error may be one item's doing and wrote nothing: the batch is rerun by
   * halves so only failing items are rejected. Default: never.
   */
  isolate?(error: unknown): boolean;
  /** Size cap, in weight units (rows): a batch leaves once this much waits; an item heavier than the cap goes alone. */
  maxWeight: number;
  /** Longest an item waits for company while a batch slot is free, ms (0: the next timer tick). */
  windowMs: number;
  /** Batches running at once; while all are busy, items wait and leave together in the next one. */
  maxInFlight: number;
  /** An item's weight (rows it writes); 1 by default. */
  weight?(item: T): number;
  /** Longest a batch may run, ms (default: no limit); past it its items are rejected and its slot freed. */
  timeoutMs?: number;
  /** Default {@link systemTimer}. */
  timer?: BatchTimer;
}

interface Pending<T, R> {
  item: T;
  weight: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Groups concurrent {@link Batcher.submit} calls: a batch leaves at `maxWeight` or after
 * `windowMs`, whichever comes first, when a slot of `maxInFlight` is free. An item is never
 * split across batches.
 *
 * @example
 * const batcher = new Batcher({ run: (groups) => store(groups), maxWeight: 100, windowMs: 1, maxInFlight: 4 });
 * const result = await batcher.submit(item); // rejects if the batch's commit failed
 */
export class Batcher<T, R> {
  private readonly options: BatcherOptions<T, R>;
  private readonly timer: BatchTimer;
  private pending: Pending<T, R>[] = [];
  private pendingWeight = 0;
  private inFlight = 0;
  private windowHandle: unknown;
  /** The window of the oldest waiting item has passed: send as soon as a slot is free. */
  private due = false;
  private sent = 0;

  constructor(options: BatcherOptions<T, R>) {
    if (!(options.maxWeight >= 1) || !(options.maxInFlight >= 1) || !(options.windowMs >= 0)) {
      throw new RangeError('Batcher: maxWeight and maxInFlight must be at least 1, windowMs at least 0');
    }
    this.options = options;
    this.timer = options.timer ?? systemTimer;
  }

  /** Items waiting, batches running, and batches sent since the start. */
  get stats(): { waiting: number; inFlight: number; batches: number } {
    return { waiting: this.pending.length, inFlight: this.inFlight, batches: this.sent };
  }

  /** Queues `item` for the next batch; resolves with its result once that batch has committed. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const weight = this.options.weight?.(item) ?? 1;
      this.pending.push({ item, weight, resolve, reject });
      this.pendingWeight += weight;
      if (this.windowHandle === undefined && !this.due) {
        this.windowHandle = this.timer.set(() => this.windowClosed(), this.options.windowMs);
      }
      this.pump();
    });
  }

  private windowClosed(): void {
    this.windowHandle = undefined;
    this.due = true;
    this.pump();
  }

  /** Sends every batch that may leave now. */
  private pump(): void {
    while (
      this.pending.length > 0 &&
      this.inFlight < this.options.maxInFlight &&
      (this.due || this.pendingWeight >= this.options.maxWeight)
    ) {
      this.send(this.take());
    }
    if (this.pending.length === 0) {
      this.due = false;
      if (this.windowHandle !== undefined) {
        this.timer.clear(this.windowHandle);
        this.windowHandle = undefined;
      }
    }
  }

  /** The oldest items, up to the cap (at least one). */
  private take(): Pending<T, R>[] {
    let n = 0;
    let weight = 0;
    while (n < this.pending.length && (n === 0 || weight + this.pending[n]!.weight <= this.options.maxWeight)) {
      weight += this.pending[n]!.weight;
      n += 1;
    }
    this.pendingWeight -= weight;
    return this.pending.splice(0, n);
  }

  private send(batch: Pending<T, R>[]): void {
    this.inFlight += 1;
    this.sent += 1;
    const outcomes = this.settle(batch.map((p) => p.item));
    // The batch ends once: with run's answer, or at its timeout, whichever comes first.
    let ended = false;
    let timeout: unknown;
    const end = (settle: () => void): void => {
      if (ended) return;
      ended = true;
      if (timeout !== undefined) this.timer.clear(timeout);
      settle();
      this.inFlight -= 1;
      this.pump();
    };
    const { timeoutMs } = this.options;
    if (timeoutMs !== undefined) {
      timeout = this.timer.set(() => {
        timeout = undefined;
        end(() => {
          for (const p of batch) p.reject(new Error(`the batch did not finish within ${timeoutMs} ms`));
        });
      }, timeoutMs);
    }
    void outcomes.then((out) =>
      end(() =>
        batch.forEach((p, i) => {
          const o = out[i]!;
          if (o.ok) p.resolve(o.value);
          else p.reject(o.error);
        }),
      ),
    );
  }

  /** Runs `items` and settles each, by halves when `isolate` claims the error. Never rejects. */
  private async settle(items: T[]): Promise<Settled<R>[]> {
    let out: R[];
    try {
      out = await this.options.run(items);
    } catch (error) {
      if (items.length > 1 && this.options.isolate?.(error)) {
        const half = Math.ceil(items.length / 2);
        const left = await this.settle(items.slice(0, half));
        return left.concat(await this.settle(items.slice(half)));
      }
      return items.map(() => ({ ok: false, error }));
    }
    if (out.length !== items.length) {
      const error = new Error(`Batcher: run returned ${out.length} results for ${items.length} items`);
      return items.map(() => ({ ok: false, error }));
    }
    return out.map((value) => ({ ok: true, value }));
  }
}

type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** The inbound route's batcher: each item is one request's events, weighed by their number. */
export type InboundBatcher = Batcher<NewInboundEvent[], StoredInboundEvent[]>;

/**
 * Stores several requests' events in one {@link storeInboundBatch} statement; results per request, in order. With
 * `handoff`, the job is committed locked by the pool of the ticket it reserves and handed to it (or the ticket
 * cancelled). Throws the database error.
 */
export async function storeInboundGroups(
  sql: Tx,
  groups: NewInboundEvent[][],
  handoff?: ProcessingHandoff,
): Promise<StoredInboundEvent[][]> {
  const ticket = handoff?.reserve();
  const events = groups.flat();
  // Ids chosen here, so that a statement whose answer was lost can still be traced to its job.
  const ids = ticket ? events.map(() => newId('iev')) : undefined;
  let batch: StoredInboundBatch;
  try {
    batch = await storeInboundBatch(sql, events, ticket ? { lockedBy: ticket.poolId, ids: ids! } : {});
  } catch (error) {
    ticket?.inDoubt(ids!);
    throw error;
  }
  if (ticket) {
    if (batch.handed) ticket.hand(batch.handed);
    else ticket.cancel();
  }
  let at = 0;
  return groups.map((g) => {
    const mine = batch.stored.slice(at, at + g.length);
    at += g.length;
    return mine;
  });
}

/**
 * A {@link Batcher} storing each batch with {@link storeInboundGroups} in autocommit, so a
 * refused statement wrote nothing and its halves can be retried ({@link isStatementRefusal}).
 * `handoff`: the worker of this process, when it runs one (`switchyard all`).
 */
export function createInboundBatcher(
  sql: Tx,
  options: Pick<BatcherOptions<unknown, unknown>, 'maxWeight' | 'windowMs' | 'maxInFlight' | 'timer' | 'timeoutMs'> & {
    handoff?: ProcessingHandoff;
  },
): InboundBatcher {
  const { handoff, ...batching } = options;
  return new Batcher<NewInboundEvent[], StoredInboundEvent[]>({
    ...batching,
    weight: (events) => events.length,
    isolate: isStatementRefusal,
    run: (groups) => storeInboundGroups(sql, groups, handoff),
  });
}
