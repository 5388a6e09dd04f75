-- The ledger proves itself continuously (issue #17 item 7, README "Reconcile"): a cron task checks
-- each merchant's kept balances against the entries posted since the last checkpoint, one
-- indexed scan per account, and every day against all entries.

-- An account's entries in id order, what an incremental check scans from its checkpoint, is
-- built concurrently by sql/0042 (gw.ledger_entries is large).

-- Per account, the last entry a check proved and the sum of the entries up to it (debit-positive).
create table gw.ledger_check_accounts (
  account_id  bigint primary key references gw.ledger_accounts (id),
  entry_id    bigint not null,
  balance     numeric(38, 0) not null
);

-- One check of one merchant's ledger and what disagreed.
create table gw.ledger_checks (
  id           text primary key check (id like 'lck\_%'),
  merchant_id  text not null references gw.merchants (id),
  kind         text not null check (kind in ('incremental', 'full')),
  status       text not null check (status in ('passed', 'failed')),
  -- entries summed and accounts compared
  entries      bigint not null check (entries >= 0),
  accounts     integer not null check (accounts >= 0),
  -- [{"problem": "balance_drift", "account", "currency", "kept", "fromEntries"} |
  --  {"problem": "currency_unbalanced", "currency", "sum"} | {"problem": "transaction_unbalanced", "transactionId"}]
  problems     jsonb not null default '[]',
  started_at   timestamptz not null,
  finished_at  timestamptz not null
);
create index ledger_checks_merchant_idx on gw.ledger_checks (merchant_id, id);
create index ledger_checks_full_idx on gw.ledger_checks (merchant_id, started_at) where kind = 'full';

create trigger ledger_checks_append_only
  before update or delete on gw.ledger_checks
  for each row execute function gw.refuse_change();
