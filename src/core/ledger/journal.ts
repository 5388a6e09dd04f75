import { Decimal } from 'decimal.js';
import type { Posting } from '../payments/state-machine.js';

/** An account of the chart (DESIGN.md "Ledger postings"), one per merchant and currency. */
export type AccountCode = 'psp_receivable' | 'merchant_payable' | 'bank' | 'psp_fees';

/** One line of a journal: an amount in minor units on one side of one account. */
export interface JournalEntry {
  account: AccountCode;
  direction: 'debit' | 'credit';
  amount: Decimal;
  currency: string;
}

/**
 * The balanced entries for a posting (DESIGN.md): a capture debits `psp_receivable` and
 * credits `merchant_payable`; a refund does the reverse. Throws an Error if the result
 * does not balance per currency (it cannot, but the database checks again at commit).
 */
export function journalFor(posting: Posting, currency: string): JournalEntry[] {
  const [debit, credit]: [AccountCode, AccountCode] =
    posting.kind === 'capture' ? ['psp_receivable', 'merchant_payable'] : ['merchant_payable', 'psp_receivable'];
  const entries: JournalEntry[] = [
    { account: debit, direction: 'debit', amount: posting.amount, currency },
    { account: credit, direction: 'credit', amount: posting.amount, currency },
  ];
  assertBalanced(entries);
  return entries;
}

/** Throws an Error naming the currency in which debits and credits differ. */
export function assertBalanced(entries: JournalEntry[]): void {
  const sums = new Map<string, Decimal>();
  for (const e of entries) {
    const signed = e.direction === 'debit' ? e.amount : e.amount.negated();
    sums.set(e.currency, (sums.get(e.currency) ?? new Decimal(0)).plus(signed));
  }
  for (const [currency, sum] of sums) {
    if (!sum.isZero()) throw new Error(`journal does not balance in ${currency}: off by ${sum.toString()}`);
  }
}
