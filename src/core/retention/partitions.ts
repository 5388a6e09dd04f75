// Month partitions of the retained body tables (sql/0025_retention.sql): names and bounds.
// Pure: bounds are UTC month starts whatever the process's or the database session's time zone.
//
// Each body table is partitioned by range of the id of the row it belongs to (its primary key):
// ids are time-sortable (src/core/ids.ts: prefix, 12 hex digits of Unix ms, 20 of randomness),
// so a month is the id range from its first millisecond with zero randomness to the next
// month's, and a lookup by id is pruned to one partition.

/** The partitioned tables that hold bodies (schema `gw`): raw inbound bodies and headers, event payloads, attempt response bodies. */
export const RETAINED_TABLES = ['inbound_event_bodies', 'event_payloads', 'attempt_response_bodies'] as const;

/** One of {@link RETAINED_TABLES}. */
export type RetainedTable = (typeof RETAINED_TABLES)[number];

/** The id prefix of the rows each body table belongs to (`iev_`, `evt_`, `att_` ids). */
export const ID_PREFIX: Record<RetainedTable, 'iev' | 'evt' | 'att'> = {
  inbound_event_bodies: 'iev',
  event_payloads: 'evt',
  attempt_response_bodies: 'att',
};

/** One month partition: `gw.<name>` holds the rows of `table` whose id was made in `[from, to)`, i.e. `fromKey <= id < toKey`. */
export interface MonthPartition {
  table: RetainedTable;
  /** `<table>_yYYYYmMM`, e.g. `event_payloads_y2026m12`. */
  name: string;
  /** First instant of the month, UTC (inclusive). */
  from: Date;
  /** First instant of the next month, UTC (exclusive). */
  to: Date;
  /** The smallest id made at `from` (inclusive bound). */
  fromKey: string;
  /** The smallest id made at `to` (exclusive bound). */
  toKey: string;
}

const ID = /^[a-z]+_([0-9a-f]{12})[0-9a-f]{20}$/;

/** The smallest id with `prefix` made at instant `at`: its millisecond, zero randomness. */
export function idLowerBound(prefix: string, at: Date): string {
  return `${prefix}_${at.getTime().toString(16).padStart(12, '0')}${'0'.repeat(20)}`;
}

/** The instant a prefixed id (src/core/ids.ts layout) was made, or undefined for another shape. */
export function idTime(id: string): Date | undefined {
  const m = ID.exec(id);
  return m ? new Date(Number.parseInt(m[1]!, 16)) : undefined;
}

const NAME = /^(.+)_y(\d{4})m(\d{2})$/;

/** The first instant (UTC) of the month `at` falls in, moved by `offset` months. */
export function monthStart(at: Date, offset = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1));
}

/**
 * The partition of `table` holding instant `at`.
 *
 * @example
 * monthPartition('event_payloads', new Date('2028-02-29T23:59:59.999Z')).name; // 'event_payloads_y2028m02'
 */
export function monthPartition(table: RetainedTable, at: Date): MonthPartition {
  const from = monthStart(at);
  const year = String(from.getUTCFullYear()).padStart(4, '0');
  const month = String(from.getUTCMonth() + 1).padStart(2, '0');
  const to = monthStart(from, 1);
  const prefix = ID_PREFIX[table];
  return { table, name: `${table}_y${year}m${month}`, from, to, fromKey: idLowerBound(prefix, from), toKey: idLowerBound(prefix, to) };
}

/** The partitions of `table` for the month of `now` and the `ahead` months after it, oldest first. */
export function partitionsAhead(table: RetainedTable, now: Date, ahead: number): MonthPartition[] {
  return Array.from({ length: ahead + 1 }, (_, i) => monthPartition(table, monthStart(now, i)));
}

/** The month partition named `name` of `table`, or undefined for any other name (the default partition, a stray table). */
export function parsePartitionName(table: RetainedTable, name: string): MonthPartition | undefined {
  const m = NAME.exec(name);
  if (!m || m[1] !== table) return undefined;
  const month = Number(m[3]);
  if (month < 1 || month > 12) return undefined;
  const p = monthPartition(table, new Date(Date.UTC(Number(m[2]), month - 1, 1)));
  return p.name === name ? p : undefined;
}

/**
 * The partitions among `names` whose every row is older than `retentionDays` days at `now`
 * (upper bound at or before `now - retentionDays` days), oldest first: the ones a purge drops.
 * A row is thus kept at least `retentionDays` days and at most that plus one month.
 * `retentionDays` 0 keeps everything. Days are 86,400 s (UTC has no DST).
 */
export function expiredPartitions(table: RetainedTable, names: readonly string[], now: Date, retentionDays: number): MonthPartition[] {
  if (retentionDays <= 0) return [];
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  return names
    .map((n) => parsePartitionName(table, n))
    .filter((p): p is MonthPartition => p !== undefined && p.to.getTime() <= cutoff)
    .sort((a, b) => a.from.getTime() - b.from.getTime());
}
