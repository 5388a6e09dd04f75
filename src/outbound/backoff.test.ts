import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyStatus, parseRetryAfterMs, retryDelayMs, type ResponseClass } from './backoff.js';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../core/config.js';

const schedule = DEFAULT_RETRY_SCHEDULE_SECONDS;

describe('retryDelayMs', () => {
  it('follows the contract schedule of 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts in all)', () => {
    expect(schedule).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(schedule.map((_, i) => retryDelayMs(i + 1, schedule, () => 0.5))).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
  });

  it('keeps every jittered delay within ±20 % of the scheduled delay, as an integer of ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: schedule.length }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retryNumber, r) => {
          const delay = retryDelayMs(retryNumber, schedule, () => r);
          const base = schedule[retryNumber - 1]! * 1000;
          expect(delay).toBeDefined();
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay!).toBeGreaterThanOrEqual(0.8 * base);
          expect(delay!).toBeLessThanOrEqual(1.2 * base);
        },
      ),
    );
  });

  it('spans the jitter range from 0.8× at random 0 to nearly 1.2× at random just below 1', () => {
    expect(retryDelayMs(2, schedule, () => 0)).toBe(240_000);
    expect(retryDelayMs(2, schedule, () => 0.999999)).toBe(360_000);
  });

  it('returns undefined once the schedule is exhausted, so the message is marked failed', () => {
    expect(retryDelayMs(schedule.length, schedule)).toBeDefined();
    expect(retryDelayMs(schedule.length + 1, schedule)).toBeUndefined();
    expect(retryDelayMs(1, [])).toBeUndefined();
  });

  it('returns undefined for a retry number that is not a positive integer', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) expect(retryDelayMs(n, schedule)).toBeUndefined();
  });
});

describe('classifyStatus', () => {
  it.each<[number, ResponseClass]>([
    [200, 'success'],
    [201, 'success'],
    [204, 'success'],
    [299, 'success'],
    [410, 'gone'],
    [429, 'throttle'],
    [502, 'throttle'],
    [503, 'throttle'],
    [504, 'throttle'],
    [100, 'retry'],
    [301, 'retry'],
    [302, 'retry'],
    [307, 'retry'],
    [400, 'retry'],
    [401, 'retry'],
    [404, 'retry'],
    [408, 'retry'],
    [500, 'retry'],
    [501, 'retry'],
  ])('classifies status %i as %s', (status, expected) => {
    expect(classifyStatus(status)).toBe(expected);
  });
});

describe('parseRetryAfterMs', () => {
  const now = new Date('2025-03-01T12:00:00.000Z');
  const max = 3_600_000;

  it('reads delta-seconds as a wait in milliseconds', () => {
    expect(parseRetryAfterMs('120', now, max)).toBe(120_000);
    expect(parseRetryAfterMs(' 0 ', now, max)).toBe(0);
  });

  it('reads an IMF-fixdate as the time until that instant', () => {
    expect(parseRetryAfterMs('Sat, 01 Mar 2025 12:01:30 GMT', now, max)).toBe(90_000);
  });

  it('reads the obsolete RFC 850 and asctime date forms as UTC', () => {
    expect(parseRetryAfterMs('Saturday, 01-Mar-25 12:00:10 GMT', now, max)).toBe(10_000);
    expect(parseRetryAfterMs('Sat Mar  1 12:00:20 2025', now, max)).toBe(20_000);
  });

  it('clamps a date in the past to zero', () => {
    expect(parseRetryAfterMs('Fri, 28 Feb 2025 12:00:00 GMT', now, max)).toBe(0);
  });

  it('clamps a long wait to the maximum, in either form', () => {
    expect(parseRetryAfterMs('86400', now, max)).toBe(max);
    expect(parseRetryAfterMs('99999999999999999999999', now, max)).toBe(max);
    expect(parseRetryAfterMs('Sun, 02 Mar 2025 12:00:00 GMT', now, max)).toBe(max);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['negative', '-5'],
    ['fractional', '1.5'],
    ['free text', 'soon'],
    ['a date without GMT', 'Sat, 01 Mar 2025 12:01:30'],
    ['an impossible day', 'Mon, 31 Feb 2025 12:00:00 GMT'],
    ['an impossible hour', 'Sat, 01 Mar 2025 25:00:00 GMT'],
    ['an ISO 8601 timestamp', '2025-03-01T12:01:30Z'],
  ])('returns undefined when the header is %s', (_label, value) => {
    expect(parseRetryAfterMs(value, now, max)).toBeUndefined();
  });
});
