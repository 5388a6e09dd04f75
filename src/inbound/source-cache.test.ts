import { describe, expect, it } from 'vitest';
import { invalidateSource, SourceCache } from './source-cache.js';

/** A monotonic clock the test moves by hand, ms. */
function manualClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A loader that counts its calls and answers `value` (or throws when it is an Error). */
function loader<V>(value: () => V) {
  let calls = 0;
  return {
    load: async () => {
      calls += 1;
      const v = value();
      if (v instanceof Error) throw v;
      return v;
    },
    get calls() {
      return calls;
    },
  };
}

describe('SourceCache', () => {
  it('loads a source once per TTL, and again once the TTL has passed', async () => {
    const clock = manualClock();
    const cache = new SourceCache<string>({ ttlMs: 1000, now: clock.now });
    let version = 'v1';
    const l = loader(() => version);
    expect(await cache.get('src_a', l.load)).toBe('v1');
    version = 'v2';
    clock.advance(999);
    expect(await cache.get('src_a', l.load)).toBe('v1');
    clock.advance(1);
    expect(await cache.get('src_a', l.load)).toBe('v2');
    expect(l.calls).toBe(2);
  });

  it('shares one load between concurrent misses', async () => {
    const cache = new SourceCache<string>({ ttlMs: 1000, now: manualClock().now });
    const l = loader(() => 'x');
    const got = await Promise.all(Array.from({ length: 10 }, () => cache.get('src_a', l.load)));
    expect(got).toEqual(Array(10).fill('x'));
    expect(l.calls).toBe(1);
  });

  it('keeps "no such source" for the TTL too, but not a failed load', async () => {
    const cache = new SourceCache<string | undefined>({ ttlMs: 1000, now: manualClock().now });
    const missing = loader<string | undefined>(() => undefined);
    await cache.get('src_none', missing.load);
    await cache.get('src_none', missing.load);
    expect(missing.calls).toBe(1);
    let fail = true;
    const flaky = loader<string | Error>(() => (fail ? new Error('database down') : 'ok'));
    await expect(cache.get('src_b', flaky.load as () => Promise<string>)).rejects.toThrow('database down');
    fail = false;
    expect(await cache.get('src_b', flaky.load as () => Promise<string>)).toBe('ok');
    expect(flaky.calls).toBe(2);
  });

  it('forgets a source in every cache of the process when invalidateSource is called (a rotation here applies at once)', async () => {
    const clock = manualClock();
    const one = new SourceCache<string>({ ttlMs: 60_000, now: clock.now });
    const two = new SourceCache<string>({ ttlMs: 60_000, now: clock.now });
    let secret = 'old';
    const l = loader(() => secret);
    await one.get('src_rot', l.load);
    await two.get('src_rot', l.load);
    await one.get('src_other', async () => 'other');
    secret = 'new';
    invalidateSource('src_rot');
    expect(await one.get('src_rot', l.load)).toBe('new');
    expect(await two.get('src_rot', l.load)).toBe('new');
    expect(await one.get('src_other', async () => 'reloaded')).toBe('other');
  });

  it('caches nothing with a TTL of 0, and keeps at most maxEntries sources (the oldest go first)', async () => {
    const off = new SourceCache<string>({ ttlMs: 0, now: manualClock().now });
    const l = loader(() => 'x');
    await off.get('src_a', l.load);
    await off.get('src_a', l.load);
    expect(l.calls).toBe(2);
    expect(off.size).toBe(0);

    const small = new SourceCache<string>({ ttlMs: 1000, maxEntries: 2, now: manualClock().now });
    const counted = loader(() => 'y');
    await small.get('src_1', counted.load);
    await small.get('src_2', counted.load);
    await small.get('src_3', counted.load);
    expect(small.size).toBe(2);
    await small.get('src_1', counted.load); // evicted: loaded again
    expect(counted.calls).toBe(4);
  });
});
