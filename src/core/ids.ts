import { randomBytes, toHex } from './crypto.js';

/** The id prefixes of CONTRACT.md, one per kind of object. */
export const ID_PREFIXES = {
  merchant: 'mch',
  apiKey: 'key',
  source: 'src',
  inboundEvent: 'iev',
  payment: 'pay',
  event: 'evt',
  message: 'msg',
  endpoint: 'ep',
  attempt: 'att',
  reconciliation: 'rcn',
  request: 'req',
} as const;

/** One of the prefixes above. */
export type IdPrefix = (typeof ID_PREFIXES)[keyof typeof ID_PREFIXES];

/**
 * A new prefixed, time-sortable id: `<prefix>_` + 12 hex digits of Unix milliseconds
 * + 20 random hex digits (a UUIDv7-shaped body, 80 bits of randomness; consecutive ids
 * of one process increase strictly). The same shape as
 * `gw.new_id(prefix)` in sql/0001_init.sql, so ids made in SQL and in TS sort together.
 *
 * @example
 * newId('pay') // 'pay_0193a1b2c3d4e5f60718293a4b5c'
 */
export function newId(prefix: IdPrefix, now: Date = new Date()): string {
  let ms = now.getTime();
  let random = BigInt(`0x${toHex(randomBytes(10))}`);
  // Monotonic within a process (as ULID's monotonic factory): an id made in the same or an
  // earlier millisecond than the last one increments it, so events emitted together (say
  // payment.authorized then payment.captured) list in the order they were made.
  if (ms <= last.ms) {
    ms = last.ms;
    random = last.random + 1n;
    if (random >= 1n << 80n) {
      ms += 1;
      random = 0n;
    }
  }
  last.ms = ms;
  last.random = random;
  return `${prefix}_${ms.toString(16).padStart(12, '0')}${random.toString(16).padStart(20, '0')}`;
}

// The last id's time and random part; process-wide by design (see newId).
const last = { ms: 0, random: 0n };

/** True when `s` looks like an id with that prefix (shape only; it may not exist). */
export function isId(prefix: IdPrefix, s: string): boolean {
  return new RegExp(`^${prefix}_[0-9a-f]{32}$`).test(s);
}
