-- Reconciliation of PSP settlement reports against the ledger (issue #17, README "Reconcile").
-- A report is loaded in bulk (COPY) into gw.reconciliation_items, matched with set
-- operations, and each matched line posts one `settlement` ledger transaction, once per
-- (source, PSP line id): gw.settlement_postings holds that key.

-- Differences the PSP's figures leave against the ledger, for the merchant to resolve.
alter table gw.ledger_accounts drop constraint ledger_accounts_code_check;
alter table gw.ledger_accounts add constraint ledger_accounts_code_check check (code in (
  'psp_receivable', 'merchant_payable', 'bank', 'psp_fees', 'settlement_differences')) not valid;
alter table gw.ledger_accounts validate constraint ledger_accounts_code_check;

-- How long after a capture or refund its settlement may take before it is `missingInReport`.
alter table gw.sources
  add column settlement_delay_seconds integer not null default 604800
    check (settlement_delay_seconds between 0 and 31536000);

-- One uploaded (or pulled) report and how its reconciliation went.
create table gw.reconciliation_runs (
  id            text primary key check (id like 'rcn\_%'),
  merchant_id   text not null references gw.merchants (id),
  source_id     text not null references gw.sources (id),
  format        text not null check (format in ('stripe', 'adyen')),
  -- SHA-256 of the report's bytes: the same bytes again for the same source is the same run
  sha256        bytea check (octet_length(sha256) = 32),
  status        text not null check (status in ('processing', 'completed', 'failed')),
  payout_id     text,
  batch_number  text,
  period_start  timestamptz,
  period_end    timestamptz,
  -- data lines in the report (the header excluded), and how many the job has matched
  lines         integer not null default 0 check (lines >= 0),
  lines_done    integer not null default 0 check (lines_done >= 0),
  -- the last position (file line) the job has matched: it resumes after it
  position_done integer not null default 0,
  counts        jsonb,
  totals        jsonb,
  error         text,
  created_at    timestamptz not null default now(),
  completed_at  timestamptz,
  constraint reconciliation_runs_source_sha256_key unique (source_id, sha256)
);
create index reconciliation_runs_merchant_idx on gw.reconciliation_runs (merchant_id, id);

-- The staging table and the result of each line: COPY writes the parsed lines, the matching
-- job sets result/payment/expected. `position` is the file's line number for report lines
-- (the header is line 1) and follows the last line for `missingInReport` items.
create table gw.reconciliation_items (
  run_id         text not null references gw.reconciliation_runs (id),
  position       integer not null,
  line_no        integer,
  -- the PSP's id of the line: Stripe balance_transaction_id; Adyen `Psp Reference:Modification Reference:Type`
  line_id        text,
  -- charge | capture_reversal | refund | refund_reversal | dispute | dispute_reversal | payout | other
  category       text,
  psp_type       text,
  payment_ref    text,
  operation_ref  text,
  currency       text,
  -- signed minor units as the PSP reports them: credit to the merchant positive
  gross          bigint,
  fee            bigint,
  net            bigint,
  occurred_at    timestamptz,
  payout_ref     text,
  result         text check (result in (
                   'matched', 'amountMismatch', 'missingInLedger', 'missingInReport', 'duplicate', 'ignored', 'invalid')),
  payment_id     text,
  expected       bigint,
  detail         text,
  primary key (run_id, position)
);
create index reconciliation_items_result_idx on gw.reconciliation_items (run_id, result, position);

-- One row per PSP line settled into the ledger: the database refuses a second posting of it.
create table gw.settlement_postings (
  source_id      text not null references gw.sources (id),
  line_id        text not null,
  run_id         text not null references gw.reconciliation_runs (id),
  position       integer not null,
  payment_id     text references gw.payments (id),
  category       text not null,
  operation_ref  text,
  created_at     timestamptz not null default now(),
  constraint settlement_postings_pkey primary key (source_id, line_id)
);
create index settlement_postings_run_idx on gw.settlement_postings (run_id, position);
create index settlement_postings_payment_idx on gw.settlement_postings (payment_id, category);
create index settlement_postings_operation_idx on gw.settlement_postings (source_id, operation_ref) where operation_ref is not null;

create trigger settlement_postings_append_only
  before update or delete on gw.settlement_postings
  for each row execute function gw.refuse_change();
create trigger settlement_postings_no_truncate
  before truncate on gw.settlement_postings
  for each statement execute function gw.refuse_change();
