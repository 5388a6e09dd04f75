import { Decimal } from 'decimal.js';
import type { Posting } from '../payments/state-machine.js';

/** An account of the chart (docs/architecture.md "Ledger postings"), one per merchant and currency. */
type AccountCode = 'psp_receivable' | 'merchant_payable' | 'bank' | 'psp_fees';

/** One line of a journal: an amount in minor units on one side of one account. */
export interface JournalEntry {
  account: AccountCode;
  direction: 'debit' | 'credit';
  amount: Decimal;
  currency: string;
}

/** Debit and credit account of each posting kind (docs/architecture.md "Ledger postings"); a reversal swaps the sides of what it reverses. */
const POSTING_ACCOUNTS: Readonly<Record<Posting['kind'], { debit: AccountCode; credit: AccountCode }>> = {
  capture: { debit: 'psp_receivable', credit: 'merchant_payable' },
  capture_reversal: { debit: 'merchant_payable', credit: 'psp_receivable' },
  refund: { debit: 'merchant_payable', credit: 'psp_receivable' },
  refund_reversal: { debit: 'psp_receivable', credit: 'merchant_payable' },
  dispute_loss: { debit: 'merchant_payable', credit: 'psp_receivable' },
  dispute_loss_reversal: { debit: 'psp_receivable', credit: 'merchant_payable' },
};

/** The balanced entries of a posting, minor units; throws an Error if they do not balance (they cannot; the database rechecks). */
export function journalFor(posting: Posting, currency: string): JournalEntry[] {
  const { debit, credit } = POSTING_ACCOUNTS[posting.kind];
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
