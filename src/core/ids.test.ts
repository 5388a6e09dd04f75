import { describe, expect, it } from 'vitest';
import { idSuccessor, isId, newId } from './ids.js';

describe('ids', () => {
  it('carries its prefix and a 32-hex-digit body', () => {
    const id = newId('pay');
    expect(isId('pay', id)).toBe(true);
    expect(isId('evt', id)).toBe(false);
  });

  it('increases strictly for ids made in the same millisecond, so they list in the order made', () => {
    const at = new Date('2026-11-22T12:00:00.000Z');
    const ids = Array.from({ length: 1000 }, () => newId('evt', at));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('never goes backwards when the clock does', () => {
    const later = newId('evt', new Date('2026-11-22T12:00:01.000Z'));
    const earlier = newId('evt', new Date('2026-11-22T12:00:00.000Z'));
    expect(earlier > later).toBe(true);
  });

  it('sorts by creation time across milliseconds', () => {
    const a = newId('msg', new Date(Date.UTC(2030, 0, 1)));
    const b = newId('msg', new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 1)));
    expect(a < b).toBe(true);
  });

  it('carries the random bits into the millisecond when they overflow', () => {
    const top = 2 ** 40 - 1;
    expect(idSuccessor({ ms: 5, hi: 7, lo: 9 })).toEqual({ ms: 5, hi: 7, lo: 10 });
    expect(idSuccessor({ ms: 5, hi: 7, lo: top })).toEqual({ ms: 5, hi: 8, lo: 0 });
    expect(idSuccessor({ ms: 5, hi: top, lo: top })).toEqual({ ms: 6, hi: 0, lo: 0 });
  });

  it('draws different random bits for ids of different milliseconds, all 80 of them in use', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => newId('iev', new Date(Date.UTC(2040, 0, 1) + i)).slice(-20));
    expect(new Set(ids).size).toBe(ids.length);
    for (let digit = 0; digit < 20; digit++) expect(new Set(ids.map((r) => r[digit])).size).toBe(16);
  });
});
