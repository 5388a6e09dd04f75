import { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import type { JournalEntry } from './journal.js';
import { toMinorText } from '../money.js';

/**
 * Posts balanced ledger transactions of one merchant in ONE round trip via `gw.post_transactions` (sql/0009, sql/0137),
 * which creates accounts on first use and locks each once in id order; those already posted for their (payment, cause,
 * kind) are skipped. Returns the ids posted. Minor units.
 * @throws the database's check_violation (SQLSTATE 23514) for a transaction with fewer than two entries or unbalanced in
 *   a currency, raised by the call itself (sql/0136).
 */
export async function postTransactions(
  tx: Tx,
  merchantId: string,
  transactions: { paymentId: string | null; cause: string; kind: string; entries: JournalEntry[] }[],
): Promise<string[]> {
  if (transactions.length === 0) return [];
  const payload = transactions.map((t) => ({
    paymentId: t.paymentId,
    cause: t.cause,
    kind: t.kind,
    entries: t.entries.map((e) => ({ account: e.account, direction: e.direction, amount: toMinorText(e.amount), currency: e.currency })),
  }));
  const [row] = await tx<{ ids: string[] }[]>`select gw.post_transactions(${merchantId}, ${tx.json(payload)}) as ids`;
  return row?.ids ?? [];
}

/** A ledger transaction with its entries; amounts in minor units as Decimal. */
export interface LedgerTransaction {
  id: string;
  kind: string;
  cause: string;
  createdAt: Date;
  entries: { account: string; direction: 'debit' | 'credit'; amount: Decimal; currency: string }[];
}

/** A payment's ledger transactions with their entries, oldest first (in the order their entries were written). */
export async function listPaymentLedger(tx: Tx, paymentId: string): Promise<LedgerTransaction[]> {
  const rows = await tx<
    {
      id: string;
      kind: string;
      cause: string;
      created_at: Date;
      account: string;
      direction: 'debit' | 'credit';
      amount: string;
      currency: string;
    }[]
  >`
    select t.id, t.kind, t.cause, t.created_at, a.code as account, e.direction, e.amount, e.currency
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id
      join gw.ledger_accounts a on a.id = e.account_id
     where t.payment_id = ${paymentId}
     order by e.id`;
  const byId = new Map<string, LedgerTransaction>();
  for (const r of rows) {
    let t = byId.get(r.id);
    if (!t) {
      t = { id: r.id, kind: r.kind, cause: r.cause, createdAt: r.created_at, entries: [] };
      byId.set(r.id, t);
    }
    t.entries.push({ account: r.account, direction: r.direction, amount: new Decimal(r.amount), currency: r.currency });
  }
  return [...byId.values()];
}

/** The merchant's account balances (debit-positive), optionally for one currency. */
export async function listBalances(
  tx: Tx,
  merchantId: string,
  currency?: string,
): Promise<{ account: string; currency: string; balance: Decimal }[]> {
  const rows = await tx<{ account: string; currency: string; balance: string }[]>`
    select code as account, currency, balance
      from gw.ledger_accounts
     where merchant_id = ${merchantId}
       ${currency ? tx`and currency = ${currency}` : tx``}
     order by currency, code`;
  return rows.map((r) => ({ ...r, balance: new Decimal(r.balance) }));
}

/** The result of {@link checkLedger}. */
export interface LedgerCheck {
  balanced: boolean;
  currencies: { currency: string; debits: Decimal; credits: Decimal }[];
  unbalancedTransactions: string[];
  /** Accounts whose maintained balance differs from the sum of their entries. */
  driftedAccounts: { account: string; currency: string; balance: Decimal; sumOfEntries: Decimal }[];
}

/** Proves a merchant's ledger from its entries (debits = credits per currency and transaction; balances = entry sums): O(entries). */
export async function checkLedger(tx: Tx, merchantId: string): Promise<LedgerCheck> {
  const currencies = await tx<{ currency: string; debits: string; credits: string }[]>`
    select e.currency,
           coalesce(sum(e.amount) filter (where e.direction = 'debit'), 0) as debits,
           coalesce(sum(e.amount) filter (where e.direction = 'credit'), 0) as credits
      from gw.ledger_entries e
      join gw.ledger_transactions t on t.id = e.transaction_id
     where t.merchant_id = ${merchantId}
     group by e.currency
     order by e.currency`;
  const unbalanced = await tx<{ id: string }[]>`
    select t.id
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id
     where t.merchant_id = ${merchantId}
     group by t.id, e.currency
    having sum(case e.direction when 'debit' then e.amount else -e.amount end) <> 0`;
  const drifted = await tx<{ account: string; currency: string; balance: string; sum_of_entries: string }[]>`
    select a.code as account, a.currency, a.balance,
           coalesce(sum(case e.direction when 'debit' then e.amount else -e.amount end), 0) as sum_of_entries
      from gw.ledger_accounts a
      left join gw.ledger_entries e on e.account_id = a.id
     where a.merchant_id = ${merchantId}
     group by a.id
    having a.balance <> coalesce(sum(case e.direction when 'debit' then e.amount else -e.amount end), 0)`;
  const cur = currencies.map((c) => ({ currency: c.currency, debits: new Decimal(c.debits), credits: new Decimal(c.credits) }));
  return {
    balanced: unbalanced.length === 0 && drifted.length === 0 && cur.every((c) => c.debits.equals(c.credits)),
    currencies: cur,
    unbalancedTransactions: unbalanced.map((u) => u.id),
    driftedAccounts: drifted.map((d) => ({
      account: d.account,
      currency: d.currency,
      balance: new Decimal(d.balance),
      sumOfEntries: new Decimal(d.sum_of_entries),
    })),
  };
}
