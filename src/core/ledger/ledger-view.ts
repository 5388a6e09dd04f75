import { toJsonAmount } from '../money.js';
import type { LedgerCheck } from './ledger-store.js';

/** A ledger check as `GET /v1/ledger/check` answers and `switchyard ledger check` prints it; integer minor units. */
export function ledgerCheckView(r: LedgerCheck): Record<string, unknown> {
  return {
    balanced: r.balanced,
    currencies: r.currencies.map((x) => ({ currency: x.currency, debits: toJsonAmount(x.debits), credits: toJsonAmount(x.credits) })),
    unbalancedTransactions: r.unbalancedTransactions,
    driftedAccounts: r.driftedAccounts.map((d) => ({
      account: d.account,
      currency: d.currency,
      balance: toJsonAmount(d.balance),
      sumOfEntries: toJsonAmount(d.sumOfEntries),
    })),
  };
}
