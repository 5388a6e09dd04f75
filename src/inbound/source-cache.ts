// Per-process cache of resolved sources: a busy source costs one lookup and decryption per TTL.
import type { InboundSource } from './source-store.js';
import type { Verifier } from './verifiers/types.js';

/** How a {@link SourceCache} keeps entries. */
interface SourceCacheOptions {
  /** How long an entry is used, ms (SWITCHYARD_SOURCE_CACHE_TTL_MS, default 1000). 0 caches nothing. */
  ttlMs: number;
  /** At most this many sources are kept; the oldest entry goes first (default 10,000). */
  maxEntries?: number;
  /** Monotonic milliseconds; `performance.now` by default (tests inject their own). */
  now?: () => number;
}

interface Entry<V> {
  value: Promise<V>;
  expiresAt: number;
}

// Every cache of this process, so invalidateSource(id) reaches them all; weak, so a dropped one can go.
const caches = new Set<WeakRef<SourceCache<unknown>>>();

/**
 * Source lookups by id, kept `ttlMs` (misses too, so a flood for an unknown source stays off
 * the database); concurrent misses share one load, and a load that throws is not kept. Other
 * processes see a rotation only after `ttlMs`.
 *
 * @example
 * const cache = new SourceCache<Loaded | undefined>({ ttlMs: 1000 });
 * const loaded = await cache.get(sourceId, () => loadIt(sourceId));
 */
export class SourceCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: SourceCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? (() => performance.now());
    caches.add(new WeakRef(this as SourceCache<unknown>));
  }

  /** The cached value for `id`, or what `load()` returns (then kept for the TTL). */
  get(id: string, load: () => Promise<V>): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const at = this.now();
    const hit = this.entries.get(id);
    if (hit && hit.expiresAt > at) return hit.value;
    if (hit) this.entries.delete(id);
    const value = load();
    const entry: Entry<V> = { value, expiresAt: at + this.ttlMs };
    this.entries.set(id, entry);
    // A failed load is dropped, unless an invalidation already replaced it.
    value.catch(() => {
      if (this.entries.get(id) === entry) this.entries.delete(id);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return value;
  }

  /** Forgets `id`: the next request loads it again. */
  invalidate(id: string): void {
    this.entries.delete(id);
  }

  /** Sources held now (fresh or not); for tests. */
  get size(): number {
    return this.entries.size;
  }
}

/**
 * Forgets source `id` in every {@link SourceCache} of this process; call it after a rotation
 * commits.
 *
 * @example
 * await sql.begin(async (tx) => rotateSecret(tx, …));
 * invalidateSource(sourceId);
 */
export function invalidateSource(id: string): void {
  for (const ref of caches) {
    const cache = ref.deref();
    if (cache) cache.invalidate(id);
    else caches.delete(ref);
  }
}

/** What the inbound route keeps of a source: the row, its decrypted active secrets and its verifier. */
export interface ResolvedSource {
  source: InboundSource;
  /** The active signing secrets in clear, newest first. Kept in memory only; never logged. */
  secrets: string[];
  verify: Verifier;
}
