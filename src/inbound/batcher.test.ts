import { describe, expect, it } from 'vitest';
import { Batcher, type BatchTimer } from './batcher.js';

/** A timer that fires only when the test says so, and records the delays asked for. */
function manualTimer() {
  const armed = new Map<number, () => void>();
  const delays: number[] = [];
  let next = 1;
  const timer: BatchTimer = {
    set(fn, ms) {
      delays.push(ms);
      armed.set(next, fn);
      return next++;
    },
    clear(handle) {
      armed.delete(handle as number);
    },
  };
  return {
    timer,
    delays,
    get armed() {
      return armed.size;
    },
    fire() {
      const fns = [...armed.values()];
      armed.clear();
      for (const f of fns) f();
    },
  };
}

/** A run function whose batches the test completes or fails one by one. */
function controlledRun<T>() {
  const batches: { items: T[]; resolve(out: string[]): void; reject(e: unknown): void }[] = [];
  const run = (items: T[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, resolve, reject });
    });
  return { run, batches };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('Batcher', () => {
  it('holds a lone item only until its window closes, asking the timer for exactly windowMs', async () => {
    const t = manualTimer();
    const { run, batches } = controlledRun<string>();
    const b = new Batcher<string, string>({ run, maxWeight: 100, windowMs: 2, maxInFlight: 4, timer: t.timer });
    const result = b.submit('a');
    await settle();
    expect(batches).toHaveLength(0);
    expect(t.delays).toEqual([2]);
    t.fire();
    expect(batches.map((x) => x.items)).toEqual([['a']]);
    batches[0]!.resolve(['A']);
    await expect(result).resolves.toBe('A');
    expect(b.stats).toEqual({ waiting: 0, inFlight: 0, batches: 1 });
    expect(t.armed).toBe(0);
  });

  it('sends every item submitted within one window in one batch, in order, and answers each with its own result', async () => {
    const t = manualTimer();
    const { run, batches } = controlledRun<string>();
    const b = new Batcher<string, string>({ run, maxWeight: 100, windowMs: 1, maxInFlight: 4, timer: t.timer });
    const results = ['a', 'b', 'c'].map((x) => b.submit(x));
    expect(t.delays).toEqual([1]); // one window for the three
    t.fire();
    expect(batches.map((x) => x.items)).toEqual([['a', 'b', 'c']]);
    batches[0]!.resolve(['A', 'B', 'C']);
    await expect(Promise.all(results)).resolves.toEqual(['A', 'B', 'C']);
  });

  it('sends as soon as the size cap is reached, without waiting for the window, and cancels the window when nothing is left', async () => {
    const t = manualTimer();
    const { run, batches } = controlledRun<string>();
    const b = new Batcher<string, string>({ run, maxWeight: 3, windowMs: 5, maxInFlight: 4, timer: t.timer });
    void b.submit('a');
    void b.submit('b');
    expect(batches).toHaveLength(0);
    void b.submit('c');
    expect(batches.map((x) => x.items)).toEqual([['a', 'b', 'c']]);
    expect(t.armed).toBe(0);
  });

  it('never splits an item: a group that would pass the cap waits for the next batch, and one heavier than the cap goes alone', async () => {
    const t = manualTimer();
    const { run, batches } = controlledRun<string[]>();
    const b = new Batcher<string[], string>({ run, maxWeight: 4, windowMs: 1, maxInFlight: 4, weight: (g) => g.length, timer: t.timer });
    void b.submit(['a1', 'a2', 'a3']);
    void b.submit(['b1', 'b2']); // 5 rows wait: the cap is passed, the first group leaves alone
    expect(batches.map((x) => x.items)).toEqual([[['a1', 'a2', 'a3']]]);
    void b.submit(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']); // heavier than the cap
    expect(batches.map((x) => x.items)).toEqual([[['a1', 'a2', 'a3']], [['b1', 'b2']], [['c1', 'c2', 'c3', 'c4', 'c5', 'c6']]]);
    expect(b.stats.waiting).toBe(0);
  });

  it('keeps items waiting past their window while maxInFlight batches run, and sends them together when one finishes', async () => {
    const t = manualTimer();
    const { run, batches } = controlledRun<string>();
    const b = new Batcher<string, string>({ run, maxWeight: 100, windowMs: 1, maxInFlight: 1, timer: t.timer });
    const first = b.submit('a');
    t.fire();
    expect(batches).toHaveLength(1);
    const later = ['b', 'c'].map((x) => b.submit(x));
    t.fire(); // their window closes, but the only slot is busy
    expect(batches).toHaveLength(1);
    expect(b.stats).toMatchObject({ waiting: 2, inFlight: 1 });
    batches[0]!.resolve(['A']);
    await first;
    await settle();
    expect(batches.map((x) => x.items)).toEqual([['a'], ['b', 'c']]);
    batches[1]!.resolve(['B', 'C']);
    await expect(Promise.all(later)).resolves.toEqual(['B', 'C']);
  });

  it('rejects every item of a failed batch with its error, and only that batch', async () => {
    const t = manualTimer();
    const { run, batches } = controlledRun<string>();
    const b = new Batcher<string, string>({ run, maxWeight: 2, windowMs: 1, maxInFlight: 4, timer: t.timer });
    const failed = [b.submit('a'), b.submit('b')].map((p) =>
      p.then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    const fine = b.submit('c');
    t.fire();
    expect(batches.map((x) => x.items)).toEqual([['a', 'b'], ['c']]);
    batches[0]!.reject(new Error('commit failed'));
    batches[1]!.resolve(['C']);
    await expect(Promise.all(failed)).resolves.toEqual(['commit failed', 'commit failed']);
    await expect(fine).resolves.toBe('C');
    expect(b.stats.inFlight).toBe(0);
  });

  it('rejects every item when run returns the wrong number of results, or throws synchronously', async () => {
    const t = manualTimer();
    const short = new Batcher<string, string>({
      run: async () => ['only one'],
      maxWeight: 10,
      windowMs: 1,
      maxInFlight: 1,
      timer: t.timer,
    });
    const a = short.submit('a');
    const bb = short.submit('b');
    t.fire();
    await expect(a).rejects.toThrow(/2 items/);
    await expect(bb).rejects.toThrow(/2 items/);
    const throwing = new Batcher<string, string>({
      run: () => {
        throw new Error('sync');
      },
      maxWeight: 1,
      windowMs: 1,
      maxInFlight: 1,
      timer: t.timer,
    });
    await expect(throwing.submit('x')).rejects.toThrow('sync');
  });

  it('refuses settings that could never send', () => {
    const run = async (items: string[]) => items;
    expect(() => new Batcher({ run, maxWeight: 0, windowMs: 1, maxInFlight: 1 })).toThrow(RangeError);
    expect(() => new Batcher({ run, maxWeight: 1, windowMs: -1, maxInFlight: 1 })).toThrow(RangeError);
    expect(() => new Batcher({ run, maxWeight: 1, windowMs: 1, maxInFlight: 0 })).toThrow(RangeError);
  });

  it('rejects the items of a batch still running after timeoutMs and frees its slot; the late answer is ignored', async () => {
    const { run, batches } = controlledRun<string>();
    const b = new Batcher<string, string>({ run, maxWeight: 100, windowMs: 0, maxInFlight: 1, timeoutMs: 30 });
    const stuck = b.submit('a');
    await expect(stuck).rejects.toThrow('the batch did not finish within 30 ms');
    expect(b.stats.inFlight).toBe(0);

    const next = b.submit('b');
    await settle();
    expect(batches.map((x) => x.items)).toEqual([['a'], ['b']]);
    batches[1]!.resolve(['B']);
    expect(await next).toBe('B');
    batches[0]!.resolve(['A']); // the database answered at last: nobody is waiting any more
    await settle();
    expect(b.stats).toMatchObject({ inFlight: 0, waiting: 0 });
  });

  it('splits a batch the isolate predicate claims until the bad items stand alone; the others succeed', async () => {
    const t = manualTimer();
    const runs: string[][] = [];
    const refused = new Error('row refused');
    const run = async (items: string[]): Promise<string[]> => {
      runs.push(items);
      if (items.some((i) => i.startsWith('bad'))) throw refused;
      return items.map((i) => i.toUpperCase());
    };
    const b = new Batcher<string, string>({
      run,
      maxWeight: 8,
      windowMs: 1,
      maxInFlight: 1,
      timer: t.timer,
      isolate: (e) => e === refused,
    });
    const items = ['a', 'b', 'bad1', 'c', 'd', 'e', 'bad2', 'f'];
    const results = items.map((i) =>
      b.submit(i).then(
        (v) => ({ ok: v }),
        (e: unknown) => ({ error: e }),
      ),
    );
    const out = await Promise.all(results);
    expect(out).toEqual(items.map((i) => (i.startsWith('bad') ? { error: refused } : { ok: i.toUpperCase() })));
    // one batch, then halves of halves: never more than 2·log2(8) + 1 runs per bad item
    expect(runs[0]).toEqual(items);
    expect(runs.length).toBeLessThanOrEqual(1 + 2 * 2 * 3);
    expect(b.stats).toMatchObject({ inFlight: 0, batches: 1 });
  });

  it('fails the whole batch at once when the error is not one the isolate predicate claims (the connection, a timeout)', async () => {
    const t = manualTimer();
    let runs = 0;
    const down = new Error('connection closed');
    const b = new Batcher<string, string>({
      run: () => {
        runs += 1;
        return Promise.reject(down);
      },
      maxWeight: 4,
      windowMs: 1,
      maxInFlight: 1,
      timer: t.timer,
      isolate: () => false,
    });
    const out = await Promise.allSettled(['a', 'b', 'c', 'd'].map((i) => b.submit(i)));
    expect(out.every((r) => r.status === 'rejected' && r.reason === down)).toBe(true);
    expect(runs).toBe(1);
  });
});
