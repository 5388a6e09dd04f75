import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { expiredPartitions, idTime, monthPartition, monthStart, parsePartitionName, partitionsAhead } from './partitions.js';

const utc = (s: string): Date => new Date(s);

describe('month partitions', () => {
  const savedTz = process.env.TZ;
  // A zone with DST and a non-zero offset: local-time arithmetic would shift the bounds.
  beforeEach(() => {
    process.env.TZ = 'America/New_York';
  });
  afterEach(() => {
    process.env.TZ = savedTz;
  });

  it('puts the last millisecond of a month and the first of the next in different partitions', () => {
    const a = monthPartition('event_payloads', utc('2026-12-31T23:59:59.999Z'));
    const b = monthPartition('event_payloads', utc('2027-01-01T00:00:00.000Z'));
    expect(a).toEqual({
      table: 'event_payloads',
      name: 'event_payloads_y2026m12',
      from: utc('2026-12-01T00:00:00Z'),
      to: utc('2027-01-01T00:00:00Z'),
      fromKey: `evt_${utc('2026-12-01T00:00:00Z').getTime().toString(16).padStart(12, '0')}00000000000000000000`,
      toKey: `evt_${utc('2027-01-01T00:00:00Z').getTime().toString(16).padStart(12, '0')}00000000000000000000`,
    });
    expect(b.name).toBe('event_payloads_y2027m01');
    expect(b.from).toEqual(a.to);
  });

  it('uses UTC bounds even where local time is already the next month, or still the previous', () => {
    // 2026-11-30 21:00 in New York is already December in UTC.
    expect(monthPartition('inbound_event_bodies', utc('2026-12-01T02:00:00Z')).name).toBe('inbound_event_bodies_y2026m12');
    // 2026-12-31 20:00 in New York, 2027-01-01 01:00 in UTC.
    expect(monthPartition('inbound_event_bodies', utc('2027-01-01T01:00:00Z')).name).toBe('inbound_event_bodies_y2027m01');
  });

  it('gives February 29 days in a leap year and 28 otherwise', () => {
    const leap = monthPartition('attempt_response_bodies', utc('2028-02-29T12:00:00Z'));
    expect(leap.name).toBe('attempt_response_bodies_y2028m02');
    expect((leap.to.getTime() - leap.from.getTime()) / 86_400_000).toBe(29);
    const common = monthPartition('attempt_response_bodies', utc('2027-02-28T23:59:59.999Z'));
    expect((common.to.getTime() - common.from.getTime()) / 86_400_000).toBe(28);
    expect(monthPartition('attempt_response_bodies', utc('2100-02-15T00:00:00Z')).to).toEqual(utc('2100-03-01T00:00:00Z'));
  });

  it('keeps whole 24-hour days across the DST changes of the local zone', () => {
    // March and November 2026 hold the US DST switches; UTC months are whole days regardless.
    const march = monthPartition('event_payloads', utc('2026-03-08T07:30:00Z'));
    expect(march.from).toEqual(utc('2026-03-01T00:00:00Z'));
    expect((march.to.getTime() - march.from.getTime()) / 86_400_000).toBe(31);
    const november = monthPartition('event_payloads', utc('2026-11-01T06:30:00Z'));
    expect((november.to.getTime() - november.from.getTime()) / 86_400_000).toBe(30);
  });

  it('lists the current month and the ones ahead, across a year end', () => {
    expect(partitionsAhead('event_payloads', utc('2026-11-30T23:00:00Z'), 2).map((p) => p.name)).toEqual([
      'event_payloads_y2026m11',
      'event_payloads_y2026m12',
      'event_payloads_y2027m01',
    ]);
  });

  it('parses the names it makes and nothing else', () => {
    expect(parsePartitionName('event_payloads', 'event_payloads_y2028m02')?.from).toEqual(utc('2028-02-01T00:00:00Z'));
    expect(parsePartitionName('event_payloads', 'event_payloads_default')).toBeUndefined();
    expect(parsePartitionName('event_payloads', 'event_payloads_y2028m13')).toBeUndefined();
    expect(parsePartitionName('event_payloads', 'event_payloads_y2028m00')).toBeUndefined();
    expect(parsePartitionName('event_payloads', 'inbound_event_bodies_y2028m02')).toBeUndefined();
  });

  it('round-trips every instant through its name, and the instant lies within the bounds', () => {
    fc.assert(
      fc.property(fc.date({ min: utc('1970-01-01T00:00:00Z'), max: utc('9999-12-31T23:59:59Z'), noInvalidDate: true }), (at) => {
        const p = monthPartition('event_payloads', at);
        expect(parsePartitionName('event_payloads', p.name)).toEqual(p);
        expect(p.from.getTime()).toBeLessThanOrEqual(at.getTime());
        expect(at.getTime()).toBeLessThan(p.to.getTime());
        expect(monthStart(p.to)).toEqual(p.to);
      }),
    );
  });

  it('bounds the ids made in the month: an id made at any instant sorts within its partition, and gives that instant back', () => {
    fc.assert(
      fc.property(fc.date({ min: utc('2000-01-01T00:00:00Z'), max: utc('2999-12-31T23:59:59Z'), noInvalidDate: true }), (at) => {
        // newId never goes backwards within a process, so only ids made in increasing time are checked against `at`
        const id = newId('att', at);
        const made = idTime(id)!;
        const p = monthPartition('attempt_response_bodies', made);
        expect(p.fromKey <= id && id < p.toKey).toBe(true);
        expect(made.getTime()).toBeGreaterThanOrEqual(at.getTime());
      }),
    );
    expect(idTime('att_0123')).toBeUndefined();
    expect(monthPartition('inbound_event_bodies', utc('2026-01-01T00:00:00Z')).fromKey).toMatch(/^iev_[0-9a-f]{32}$/);
  });

  it('expires a month only once its last row is older than the retention', () => {
    const names = ['event_payloads_y2026m10', 'event_payloads_y2026m11', 'event_payloads_y2026m12', 'event_payloads_default'];
    // November ends 2026-12-01T00:00Z; with 30 days it expires at 2026-12-31T00:00Z exactly.
    expect(expiredPartitions('event_payloads', names, utc('2026-12-30T23:59:59.999Z'), 30).map((p) => p.name)).toEqual([
      'event_payloads_y2026m10',
    ]);
    expect(expiredPartitions('event_payloads', names, utc('2026-12-31T00:00:00Z'), 30).map((p) => p.name)).toEqual([
      'event_payloads_y2026m10',
      'event_payloads_y2026m11',
    ]);
  });

  it('expires nothing when retention is 0 (forever)', () => {
    expect(expiredPartitions('event_payloads', ['event_payloads_y1999m01'], utc('2026-12-31T00:00:00Z'), 0)).toEqual([]);
  });

  it('never expires a partition that may hold a row younger than the retention', () => {
    fc.assert(
      fc.property(
        fc.date({ min: utc('2000-01-01T00:00:00Z'), max: utc('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.date({ min: utc('2000-01-01T00:00:00Z'), max: utc('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 3650 }),
        (row, now, days) => {
          const p = monthPartition('attempt_response_bodies', row);
          const expired = expiredPartitions('attempt_response_bodies', [p.name], now, days).length === 1;
          const rowOldEnough = now.getTime() - row.getTime() >= days * 86_400_000;
          if (expired) expect(rowOldEnough).toBe(true);
        },
      ),
    );
  });
});
