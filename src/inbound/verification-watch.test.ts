import { describe, expect, it } from 'vitest';
import { VerificationWatch } from './verification-watch.js';

describe('VerificationWatch', () => {
  const policy = { rate: 0.5, minRequests: 4, windowMs: 60_000 };

  it('alerts once per window, when the failure share reaches the rate with enough requests', () => {
    const w = new VerificationWatch(policy);
    const t = 1_000_000;
    expect(w.record('src_a', false, t)).toBeUndefined();
    expect(w.record('src_a', false, t + 1)).toBeUndefined();
    expect(w.record('src_a', true, t + 2)).toBeUndefined(); // 3 requests: below minRequests
    expect(w.record('src_a', true, t + 3)).toEqual({ requests: 4, failures: 2, windowStart: new Date(t) });
    expect(w.record('src_a', false, t + 4)).toBeUndefined(); // alerted already in this window
    expect(w.record('src_a', false, t + 60_000)).toBeUndefined(); // a new window starts counting again
  });

  it('does not alert below the rate, and keeps sources apart', () => {
    const w = new VerificationWatch(policy);
    for (let i = 0; i < 10; i++) expect(w.record('src_ok', i % 4 !== 0, i)).toBeUndefined(); // 30 % failing
    for (let i = 0; i < 3; i++) expect(w.record('src_bad', false, i)).toBeUndefined();
    expect(w.record('src_bad', false, 3)).toMatchObject({ requests: 4, failures: 4 });
  });
});
