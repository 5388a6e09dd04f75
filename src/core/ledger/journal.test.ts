import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertBalanced, journalFor, type JournalEntry } from './journal.js';

const d = (v: number | string | bigint): Decimal => new Decimal(typeof v === 'bigint' ? v.toString() : v);

/** Entries as plain objects, so that toEqual compares amounts by value. */
const plain = (entries: JournalEntry[]) => entries.map((e) => ({ ...e, amount: e.amount.toString() }));

describe('journalFor', () => {
  it('debits psp_receivable and credits merchant_payable for a capture', () => {
    expect(plain(journalFor({ kind: 'capture', amount: d(1000) }, 'USD'))).toEqual([
      { account: 'psp_receivable', direction: 'debit', amount: '1000', currency: 'USD' },
      { account: 'merchant_payable', direction: 'credit', amount: '1000', currency: 'USD' },
    ]);
  });

  it('debits merchant_payable and credits psp_receivable for a refund', () => {
    expect(plain(journalFor({ kind: 'refund', amount: d(400) }, 'JPY'))).toEqual([
      { account: 'merchant_payable', direction: 'debit', amount: '400', currency: 'JPY' },
      { account: 'psp_receivable', direction: 'credit', amount: '400', currency: 'JPY' },
    ]);
  });

  it('gives balanced entries, in one currency, for any posting amount', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('capture' as const, 'refund' as const),
        fc.bigInt({ min: 1n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
        fc.constantFrom('USD', 'JPY', 'KWD', 'EUR'),
        (kind, amount, currency) => {
          const entries = journalFor({ kind, amount: d(amount) }, currency);
          expect(() => assertBalanced(entries)).not.toThrow();
          const side = (dir: JournalEntry['direction']) =>
            entries.filter((e) => e.direction === dir).reduce((acc, e) => acc.plus(e.amount), new Decimal(0));
          expect(side('debit').toString()).toBe(d(amount).toString());
          expect(side('credit').toString()).toBe(d(amount).toString());
          expect(entries.every((e) => e.currency === currency)).toBe(true);
          // The two sides touch the two accounts of the chart the design names, once each.
          expect(entries.map((e) => e.account).sort()).toEqual(['merchant_payable', 'psp_receivable']);
        },
      ),
    );
  });
});

describe('assertBalanced', () => {
  const entry = (
    account: JournalEntry['account'],
    direction: JournalEntry['direction'],
    amount: number,
    currency: string,
  ): JournalEntry => ({ account, direction, amount: d(amount), currency });

  it('throws an error naming the currency when debits and credits differ', () => {
    const entries = [
      entry('psp_receivable', 'debit', 1000, 'USD'),
      entry('merchant_payable', 'credit', 1000, 'USD'),
      entry('psp_receivable', 'debit', 500, 'EUR'),
      entry('merchant_payable', 'credit', 499, 'EUR'),
    ];
    expect(() => assertBalanced(entries)).toThrow(/EUR/);
    expect(() => assertBalanced(entries)).not.toThrow(/USD/);
  });

  it('accepts a balanced set spanning several currencies, including a settlement with fees', () => {
    expect(() =>
      assertBalanced([
        entry('psp_receivable', 'debit', 1000, 'USD'),
        entry('merchant_payable', 'credit', 1000, 'USD'),
        entry('psp_receivable', 'debit', 700, 'JPY'),
        entry('merchant_payable', 'credit', 700, 'JPY'),
        entry('bank', 'debit', 970, 'KWD'),
        entry('psp_fees', 'debit', 30, 'KWD'),
        entry('psp_receivable', 'credit', 1000, 'KWD'),
      ]),
    ).not.toThrow();
  });

  it('does not let a surplus in one currency offset a deficit in another', () => {
    expect(() =>
      assertBalanced([
        entry('psp_receivable', 'debit', 1001, 'USD'),
        entry('merchant_payable', 'credit', 1000, 'USD'),
        entry('psp_receivable', 'debit', 999, 'EUR'),
        entry('merchant_payable', 'credit', 1000, 'EUR'),
      ]),
    ).toThrow(/USD|EUR/);
  });

  it('accepts an empty set', () => {
    expect(() => assertBalanced([])).not.toThrow();
  });

  it('accepts any set of journalFor entries across currencies, and rejects it once one entry is nudged', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('capture' as const, 'refund' as const),
            fc.bigInt({ min: 1n, max: 10n ** 12n }),
            fc.constantFrom('USD', 'JPY', 'KWD'),
          ),
          { minLength: 1, maxLength: 10 },
        ),
        fc.nat(),
        (postings, pick) => {
          const entries = postings.flatMap(([kind, amount, currency]) => journalFor({ kind, amount: d(amount) }, currency));
          expect(() => assertBalanced(entries)).not.toThrow();
          const i = pick % entries.length;
          const nudged = entries.map((e, j) => (j === i ? { ...e, amount: e.amount.plus(1) } : e));
          expect(() => assertBalanced(nudged)).toThrow(entries[i]!.currency);
        },
      ),
    );
  });
});
