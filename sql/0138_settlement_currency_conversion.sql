-- Issue #17: Adyen settlement lines with currency conversion (Gross Currency ≠ Net Currency) are reconciled and posted.
-- Every ledger transaction balances per currency, so the conversion goes through a currency-trading account,
-- `fx_conversion`, one per currency like every account: debited the gross in the payment's currency (balancing what
-- leaves `psp_receivable`) and credited net + fee in the net currency (balancing what reaches `bank` and `psp_fees`).
-- Its balances, one per currency, are the conversions at the PSP's rates (README "Reconcile").
alter table gw.ledger_accounts drop constraint ledger_accounts_code_check;
alter table gw.ledger_accounts add constraint ledger_accounts_code_check check (code in (
  'psp_receivable', 'merchant_payable', 'bank', 'psp_fees', 'settlement_differences', 'fx_conversion')) not valid;
alter table gw.ledger_accounts validate constraint ledger_accounts_code_check;

-- The currency a line's fee and net are in, when it is not the line's (gross) currency; null otherwise.
alter table gw.reconciliation_items add column net_currency text check (net_currency ~ '^[A-Z]{3}$');
