/** The id prefixes of docs/http-api.md, one per kind of object. */
const ID_PREFIXES = {
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
  ledgerCheck: 'lck',
  replay: 'rpl',
  operatorEvent: 'oev',
  request: 'req',
  riskRule: 'rul',
  review: 'rev',
  riskList: 'rsl',
  auditEntry: 'aud',
} as const;

/** One of the prefixes above. */
export type IdPrefix = (typeof ID_PREFIXES)[keyof typeof ID_PREFIXES];

/**
 * A new time-sortable id, `<prefix>_` + 12 hex digits of Unix ms + 20 random hex digits, strictly increasing within a
 * process; the shape of `gw.new_id` (sql/0001_init.sql), so ids made in SQL and in TS sort together.
 */
export function newId(prefix: IdPrefix, now: Date = new Date()): string {
  let ms = now.getTime();
  // The 80 random bits as two 40-bit halves (exact in a double; no BigInt on this hot path).
  let hi = randomUint40();
  let lo = randomUint40();
  // Monotonic, as ULID's factory: events emitted together list in the order they were made.
  if (ms <= last.ms) ({ ms, hi, lo } = idSuccessor(last));
  last.ms = ms;
  last.hi = hi;
  last.lo = lo;
  return `${prefix}_${ms.toString(16).padStart(12, '0')}${hi.toString(16).padStart(10, '0')}${lo.toString(16).padStart(10, '0')}`;
}

const UINT40 = 2 ** 40;

/** The id body after `id` (ms, and the random bits as two 40-bit halves): random bits + 1, carrying into the ms on overflow. */
export function idSuccessor(id: { ms: number; hi: number; lo: number }): { ms: number; hi: number; lo: number } {
  if (id.lo + 1 < UINT40) return { ms: id.ms, hi: id.hi, lo: id.lo + 1 };
  if (id.hi + 1 < UINT40) return { ms: id.ms, hi: id.hi + 1, lo: 0 };
  return { ms: id.ms + 1, hi: 0, lo: 0 };
}
// The last id's time and random halves; process-wide by design (see newId).
const last = { ms: 0, hi: 0, lo: 0 };

// Random bytes drawn 4 KiB at a time rather than per id (ids are not secrets; keys use randomBytes).
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** A uniformly random integer in [0, 2^40), from the pool. */
function randomUint40(): number {
  if (poolAt + 5 > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const b = pool;
  const i = poolAt;
  poolAt += 5;
  return (((b[i]! * 256 + b[i + 1]!) * 256 + b[i + 2]!) * 256 + b[i + 3]!) * 256 + b[i + 4]!;
}

/** True when `s` looks like an id with that prefix (shape only; it may not exist). */
export function isId(prefix: IdPrefix, s: string): boolean {
  let re = idPatterns.get(prefix);
  if (!re) {
    re = new RegExp(`^${prefix}_[0-9a-f]{32}$`);
    idPatterns.set(prefix, re);
  }
  return re.test(s);
}

const idPatterns = new Map<IdPrefix, RegExp>();
