/**
 * Retry policy for outbound deliveries: the schedule, jitter, how a response status is
 * classified, and `Retry-After` parsing. Pure functions, no I/O.
 */
/** Jitter spreads retries of a burst of failures so they do not hit the endpoint together. */
const JITTER = 0.2;

/**
 * Delay in **milliseconds** before retry number `retryNumber` (1 = the first retry):
 * `schedule[retryNumber - 1]` seconds with uniform ±20 % jitter, rounded to an integer.
 *
 * @param schedule Delays in seconds, e.g. DEFAULT_RETRY_SCHEDULE_SECONDS (src/core/config.ts).
 * @param random Source in [0, 1); injectable for tests.
 * @returns The delay in ms, or `undefined` when the schedule is exhausted (or
 *   `retryNumber` is not a positive integer): the message has failed.
 *
 * @example
 * retryDelayMs(1, DEFAULT_RETRY_SCHEDULE_SECONDS, () => 0.5); // 5000
 * retryDelayMs(8, DEFAULT_RETRY_SCHEDULE_SECONDS); // undefined
 */
export function retryDelayMs(
  retryNumber: number,
  schedule: readonly number[],
  random: () => number = Math.random,
): number | undefined {
  if (!Number.isInteger(retryNumber) || retryNumber < 1) return undefined;
  const seconds = schedule[retryNumber - 1];
  if (seconds === undefined) return undefined;
  const factor = 1 - JITTER + 2 * JITTER * random();
  return Math.round(seconds * 1000 * factor);
}

/**
 * What a delivery response means for the message:
 * - `success`: delivered;
 * - `retry`: retry on the schedule;
 * - `throttle`: retry, honouring `Retry-After` when present;
 * - `gone`: disable the endpoint now.
 */
export type ResponseClass = 'success' | 'retry' | 'throttle' | 'gone';

/**
 * Classifies an HTTP status per the Standard Webhooks delivery policy: 2xx `success`;
 * 410 `gone`; 429, 502, 503 and 504 `throttle`; everything else `retry` — including 3xx,
 * because redirects are never followed (a redirect to an internal host would bypass the SSRF
 * guard).
 *
 * @example
 * classifyStatus(204); // 'success'
 * classifyStatus(503); // 'throttle'
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
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTH}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTH})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTH}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`,
);

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3) into a wait in **milliseconds** from
 * `now`, clamped to [0, `maxMs`]. Accepts delta-seconds (`120`) and all three HTTP-date
 * forms of RFC 9110 §5.6.7 (IMF-fixdate, obsolete RFC 850 and asctime, all read as UTC);
 * a date in the past gives 0.
 *
 * @returns The wait in ms, or `undefined` when the header is absent or invalid.
 *
 * @example
 * parseRetryAfterMs('120', now, 3_600_000); // 120000
 * parseRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', now, 3_600_000);
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

/**
 * RFC 9110 §5.6.7: a two-digit year that looks more than 50 years in the future is the
 * most recent past year with the same last two digits.
 */
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
