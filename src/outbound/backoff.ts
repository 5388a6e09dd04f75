// Retry policy for outbound deliveries: schedule, jitter, status classes, `Retry-After`. Pure, no I/O.
/** ±20 %, so a burst of failures does not retry in step. */
const JITTER = 0.2;

/**
 * Delay in **ms** before retry `retryNumber` (1 = the first): `schedule[retryNumber - 1]` seconds ±20 %, rounded.
 *
 * @param schedule Delays in **seconds**, e.g. DEFAULT_RETRY_SCHEDULE_SECONDS (src/core/config.ts).
 * @param random Source in [0, 1); injectable for tests.
 * @returns undefined when the schedule is exhausted (the message has failed) or `retryNumber` is not a positive integer.
 * @example retryDelayMs(1, DEFAULT_RETRY_SCHEDULE_SECONDS, () => 0.5); // 5000
 */
export function retryDelayMs(retryNumber: number, schedule: readonly number[], random: () => number = Math.random): number | undefined {
  if (!Number.isInteger(retryNumber) || retryNumber < 1) return undefined;
  const seconds = schedule[retryNumber - 1];
  if (seconds === undefined) return undefined;
  const factor = 1 - JITTER + 2 * JITTER * random();
  return Math.round(seconds * 1000 * factor);
}

/** `success`: delivered; `retry`: on the schedule; `throttle`: retry honouring `Retry-After`; `gone`: disable the endpoint. */
export type ResponseClass = 'success' | 'retry' | 'throttle' | 'gone';

/**
 * Classifies a delivery's HTTP status (Standard Webhooks delivery policy): 2xx `success`, 410 `gone`,
 * 429/502/503/504 `throttle`, else `retry`: 3xx too, as redirects are never followed (one could bypass the SSRF guard).
 */
export function classifyStatus(status: number): ResponseClass {
  if (status >= 200 && status <= 299) return 'success';
  if (status === 410) return 'gone';
  if (status === 429 || status === 502 || status === 503 || status === 504) return 'throttle';
  return 'retry';
}

const DELTA_SECONDS = /^\d+$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
// The three HTTP-date forms of RFC 9110 §5.6.7; the day names are not checked against the date.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTH}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTH})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTH}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/**
 * A `Retry-After` header (RFC 9110 §10.2.3: delta-seconds or any §5.6.7 HTTP-date, read as UTC) as a wait in
 * **ms** from `now`, clamped to [0, `maxMs`]; undefined when absent or invalid.
 *
 * @example parseRetryAfterMs('120', now, 3_600_000); // 120000
 */
export function parseRetryAfterMs(value: string | undefined, now: Date, maxMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let waitMs: number | undefined;
  if (DELTA_SECONDS.test(trimmed)) {
    waitMs = Number(trimmed) * 1000;
  } else {
    const at = parseHttpDate(trimmed, now);
    if (at !== undefined) waitMs = at - now.getTime();
  }
  if (waitMs === undefined || Number.isNaN(waitMs)) return undefined;
  return Math.min(Math.max(waitMs, 0), maxMs);
}

/** Epoch ms of an RFC 9110 HTTP-date, or `undefined`. */
function parseHttpDate(s: string, now: Date): number | undefined {
  let m = IMF_FIXDATE.exec(s);
  if (m) return utc(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = RFC850_DATE.exec(s);
  if (m) return utc(fullYear(Number(m[3]), now), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = ASCTIME_DATE.exec(s);
  if (m) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!);
  return undefined;
}

/** RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is the latest past year with those digits. */
function fullYear(twoDigits: number, now: Date): number {
  const current = now.getUTCFullYear();
  let year = current - (current % 100) + twoDigits;
  if (year > current + 50) year -= 100;
  return year;
}

function utc(year: number, month: string, day: number, hh: string, mm: string, ss: string): number | undefined {
  const monthIndex = MONTHS.indexOf(month);
  const [h, min, sec] = [Number(hh), Number(mm), Number(ss)];
  // 60 seconds is allowed for leap seconds; Date.UTC rolls it into the next minute.
  if (h > 23 || min > 59 || sec > 60) return undefined;
  // Date.UTC rolls 31 Feb into March; such a date is invalid, not a different day.
  if (new Date(Date.UTC(year, monthIndex, day)).getUTCDate() !== day) return undefined;
  return Date.UTC(year, monthIndex, day, h, min, sec);
}
