import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileEventFilter, endpointFilter, filterableEvent } from './event-filter.js';

const compile = (s: string) => {
  const r = compileEventFilter(s);
  if (!r.ok) throw new Error(`${s}: ${r.error.reason} at ${r.error.position}`);
  return r.value;
};

describe('compileEventFilter', () => {
  it('reads the event type and any field of data', () => {
    const f = compile('type == "payment.captured" && data.currency == "EUR" && data.amount >= 10000');
    expect(f.matches({ type: 'payment.captured', data: { currency: 'EUR', amount: 12500 } })).toBe(true);
    expect(f.matches({ type: 'payment.captured', data: { currency: 'USD', amount: 12500 } })).toBe(false);
    expect(f.matches({ type: 'payment.refunded', data: { currency: 'EUR', amount: 12500 } })).toBe(false);
    expect(f.matches({ type: 'payment.captured', data: { currency: 'EUR', amount: 9999 } })).toBe(false);
  });

  it('keeps CEL’s own type() and a data field named type', () => {
    const f = compile('type(data.amount) == double && data.type == "card" && type.startsWith("payment.")');
    expect(f.matches({ type: 'payment.captured', data: { amount: 1, type: 'card' } })).toBe(true);
    expect(f.matches({ type: 'review.opened', data: { amount: 1, type: 'card' } })).toBe(false);
  });

  it('reads nested objects and lists', () => {
    const f = compile('data.operations.exists(o, o.kind == "refund") && "fraud" in data.flags');
    expect(f.matches({ type: 't.x', data: { operations: [{ kind: 'capture' }, { kind: 'refund' }], flags: ['fraud'] } })).toBe(true);
    expect(f.matches({ type: 't.x', data: { operations: [{ kind: 'capture' }], flags: ['fraud'] } })).toBe(false);
  });

  it('does not match when evaluation errors: a field the payload lacks, a wrong type', () => {
    expect(compile('data.missing == 1').matches({ type: 't.x', data: {} })).toBe(false);
    expect(compile('data.a.b == 1').matches({ type: 't.x', data: { a: 'text' } })).toBe(false);
    expect(compile('!(data.missing == 1)').matches({ type: 't.x', data: {} })).toBe(false);
    expect(compile('has(data.missing) ? data.missing == 1 : true').matches({ type: 't.x', data: {} })).toBe(true);
  });

  it('refuses a bad filter, naming the position and the reason (with `type`, not its stand-in)', () => {
    const cases: [string, number, RegExp][] = [
      ['data.amount >= ', 15, /unexpected|EOF/i],
      ['amount > 1', 0, /amount/],
      ['data.currency', 0, /bool/],
      ['type == 1', 0, /type|string|int|==/],
      ['data.constructor == 1', 5, /constructor/],
    ];
    for (const [source, position, reason] of cases) {
      const r = compileEventFilter(source);
      expect(r.ok, source).toBe(false);
      if (r.ok) continue;
      expect(r.error.position, source).toBe(position);
      expect(r.error.reason, source).toMatch(reason);
      expect(r.error.reason, source).not.toContain('_typ');
    }
    expect(compileEventFilter(`${'true || '.repeat(300)}true`).ok).toBe(false);
  });

  it('decides as the equivalent JavaScript predicate for any event (property)', () => {
    const f = compile('data.currency == "EUR" && data.amount >= 10000');
    fc.assert(
      fc.property(fc.constantFrom('EUR', 'USD', 'eur', 'JPY'), fc.integer({ min: 0, max: 1_000_000_000 }), (currency, amount) => {
        expect(f.matches(filterableEvent('payment.captured', { currency, amount }))).toBe(currency === 'EUR' && amount >= 10000);
      }),
    );
  });
});

describe('endpointFilter', () => {
  it('compiles once per endpoint and version, again when the version moves', () => {
    const a = endpointFilter('ep_cache_1', 1, 'data.n == 1');
    expect(endpointFilter('ep_cache_1', 1, 'data.n == 1')).toBe(a);
    const b = endpointFilter('ep_cache_1', 2, 'data.n == 2');
    expect(b).not.toBe(a);
    expect(b!.matches({ type: 't.x', data: { n: 2 } })).toBe(true);
  });

  it('gives null (matches nothing) for a stored filter that no longer compiles', () => {
    expect(endpointFilter('ep_cache_2', 1, 'data.n ==')).toBeNull();
  });
});

describe('filterableEvent', () => {
  it('sees data as the endpoint receives it (JSON)', () => {
    const at = new Date('2026-12-01T10:15:00.000Z');
    expect(filterableEvent('t.x', { at, skip: undefined })).toEqual({ type: 't.x', data: { at: '2026-12-01T10:15:00.000Z' } });
  });
});
