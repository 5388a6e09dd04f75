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
});
