import { describe, expect, it } from 'vitest';
import { EndpointSlots } from './endpoint-slots.js';

describe('EndpointSlots', () => {
  it('gives out at most max slots per endpoint, independently per endpoint', async () => {
    const slots = new EndpointSlots(500, 10);
    expect(await slots.acquire('ep_a', 2)).toBeTypeOf('function');
    expect(await slots.acquire('ep_a', 2)).toBeTypeOf('function');
    expect(await slots.acquire('ep_b', 2)).toBeTypeOf('function');
    expect(slots.taken('ep_a')).toBe(2);
    expect(await slots.acquire('ep_a', 2)).toBeUndefined(); // waited 10 ms, nobody released
    expect(slots.taken('ep_b')).toBe(1);
  });

  it('hands a released slot straight to a job waiting for a fast endpoint', async () => {
    const slots = new EndpointSlots(500, 1000);
    const release = (await slots.acquire('ep_a', 1))!;
    const waiting = slots.acquire('ep_a', 1);
    release();
    const second = await waiting;
    expect(second).toBeTypeOf('function');
    expect(slots.taken('ep_a')).toBe(1);
    second!();
    expect(slots.taken('ep_a')).toBe(0);
  });

  it('puts a job off at once when an attempt to that endpoint has been in flight longer than slowMs', async () => {
    let t = 0;
    const slots = new EndpointSlots(500, 60_000, () => t);
    await slots.acquire('ep_hang', 1);
    t = 501;
    expect(await slots.acquire('ep_hang', 1)).toBeUndefined();
  });

  it('stops a waiting job as soon as the endpoint turns slow, not at the end of its wait', async () => {
    // A minute's wait for a slot held by an attempt that never ends: the waiter gives up
    // once that attempt has been in flight for slowMs (30 ms), well before the minute
    // (the test's own 5 s timeout would fail it otherwise).
    const slots = new EndpointSlots(30, 60_000);
    await slots.acquire('ep_hang', 1);
    expect(await slots.acquire('ep_hang', 1)).toBeUndefined();
    expect(slots.taken('ep_hang')).toBe(1);
  });

  it('does not make jobs wait for an endpoint whose recent attempts were slow', async () => {
    let t = 0;
    const slots = new EndpointSlots(500, 60_000, () => t);
    const release = (await slots.acquire('ep_slow', 1))!;
    t = 15_000;
    release();
    await slots.acquire('ep_slow', 1);
    expect(await slots.acquire('ep_slow', 1)).toBeUndefined();
  });

  it('ignores a second release of the same slot', async () => {
    const slots = new EndpointSlots();
    const release = (await slots.acquire('ep_a', 1))!;
    release();
    release();
    expect(slots.taken('ep_a')).toBe(0);
    expect(await slots.acquire('ep_a', 1)).toBeTypeOf('function');
  });

  it('lets at most max attempts wait for an endpoint with no ended attempt yet; a further one is turned away as busy, not slow', async () => {
    let t = 0;
    const slots = new EndpointSlots(500, 60_000, () => t);
    const release = (await slots.acquire('ep_new', 2))!;
    await slots.acquire('ep_new', 2);
    const waiting = [slots.acquire('ep_new', 2), slots.acquire('ep_new', 2)];
    expect(await slots.acquire('ep_new', 2)).toBeUndefined(); // at once: two wait already
    expect(slots.isSlowNow('ep_new')).toBe(false);
    release();
    expect(await waiting[0]).toBeTypeOf('function');
    t = 501; // the other slot's attempt has run past slowMs: the last waiter gives up
    expect(await waiting[1]).toBeUndefined();
    expect(slots.isSlowNow('ep_new')).toBe(true);
  });

  it('lets any number of attempts wait for an endpoint known fast, and counts it slow once an attempt runs 20 × its mean (100 ms at least)', async () => {
    let t = 0;
    const slots = new EndpointSlots(500, 60_000, () => t);
    const first = (await slots.acquire('ep_fast', 1))!;
    t = 2;
    first(); // a 2 ms attempt: the mean is known, and fast
    const held = (await slots.acquire('ep_fast', 1))!;
    const waiters = Array.from({ length: 5 }, () => slots.acquire('ep_fast', 1));
    expect(slots.isSlowNow('ep_fast')).toBe(false);
    t = 2 + 99;
    expect(slots.isSlowNow('ep_fast')).toBe(false);
    t = 2 + 101; // the held attempt now counts as hanging
    expect(slots.isSlowNow('ep_fast')).toBe(true);
    held();
    expect(await waiters[0]).toBeTypeOf('function');
    t = 120_000; // past every wait: the others give up
    expect(await Promise.all(waiters.slice(1))).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('never gives one endpoint more than maxPerEndpoint slots, whatever its max_in_flight', async () => {
    const slots = new EndpointSlots(500, 10, Date.now, 2);
    expect(await slots.acquire('ep_a', 8)).toBeTypeOf('function');
    expect(await slots.acquire('ep_a', 8)).toBeTypeOf('function');
    expect(await slots.acquire('ep_a', 8)).toBeUndefined(); // waited 10 ms
    expect(slots.taken('ep_a')).toBe(2);
    expect(await slots.acquire('ep_b', 1)).toBeTypeOf('function');
  });
});
