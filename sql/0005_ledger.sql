-- Double-entry ledger, per merchant and currency (docs/architecture.md "Ledger postings").
-- Balances are debit-positive: balance = sum(debits) - sum(credits), maintained by
-- gw.post_transaction under row locks taken in id order, so they read in O(1) and
-- concurrent postings never deadlock. GET /v1/ledger/check proves them against the entries.
create table gw.ledger_accounts (
  id           bigint generated always as identity primary key,
  merchant_id  text not null references gw.merchants (id),
  code         text not null check (code in ('psp_receivable', 'merchant_payable', 'bank', 'psp_fees')),
  currency     text not null check (currency ~ '^[A-Z]{3}$'),
  balance      numeric(38, 0) not null default 0,
  constraint ledger_accounts_merchant_code_currency_key unique (merchant_id, code, currency),
  constraint ledger_accounts_id_currency_key unique (id, currency)
);

-- One ledger transaction per (payment, cause event, kind): re-applying an event posts nothing.
create table gw.ledger_transactions (
  id           text primary key,
  merchant_id  text not null references gw.merchants (id),
  payment_id   text references gw.payments (id),
  cause        text not null,
  kind         text not null check (kind in ('capture', 'refund', 'dispute_loss', 'settlement', 'reversal')),
  created_at   timestamptz not null default now(),
  constraint ledger_transactions_payment_cause_kind_key unique nulls not distinct (payment_id, cause, kind)
);
create index ledger_transactions_payment_idx on gw.ledger_transactions (payment_id, id);

create table gw.ledger_entries (
  id              bigint generated always as identity primary key,
  transaction_id  text not null references gw.ledger_transactions (id),
  account_id      bigint not null,
  direction       text not null check (direction in ('debit', 'credit')),
  amount          bigint not null check (amount > 0),
  currency        text not null check (currency ~ '^[A-Z]{3}$'),
  -- an entry's currency is its account's currency
  constraint ledger_entries_account_fkey foreign key (account_id, currency)
    references gw.ledger_accounts (id, currency)
);
create index ledger_entries_transaction_idx on gw.ledger_entries (transaction_id);
create index ledger_entries_account_idx on gw.ledger_entries (account_id);

create trigger ledger_entries_append_only
  before update or delete on gw.ledger_entries
  for each row execute function gw.refuse_change();
create trigger ledger_entries_no_truncate
  before truncate on gw.ledger_entries
  for each statement execute function gw.refuse_change();
create trigger ledger_transactions_append_only
  before update or delete on gw.ledger_transactions
  for each row execute function gw.refuse_change();
create trigger ledger_transactions_no_truncate
  before truncate on gw.ledger_transactions
  for each statement execute function gw.refuse_change();

-- At commit, every ledger transaction has at least two entries and balances per currency.
create function gw.check_ledger_transaction_balanced() returns trigger
language plpgsql as $$
declare
  -- fired from both tables: an entry names its transaction, a transaction is itself
  v_transaction_id text := case when tg_table_name = 'ledger_entries'
                                then to_jsonb(new)->>'transaction_id' else to_jsonb(new)->>'id' end;
  v_entries integer;
  v_currency text;
begin
  select count(*) into v_entries from gw.ledger_entries where transaction_id = v_transaction_id;
  if v_entries < 2 then
    raise exception 'ledger transaction % has % entries; at least 2 are required', v_transaction_id, v_entries
      using errcode = 'check_violation';
  end if;
  select currency into v_currency
    from gw.ledger_entries
   where transaction_id = v_transaction_id
   group by currency
  having sum(case direction when 'debit' then amount else -amount end) <> 0
   limit 1;
  if found then
    raise exception 'ledger transaction % does not balance in %', v_transaction_id, v_currency
      using errcode = 'check_violation';
  end if;
  return null;
end
$$;

create constraint trigger ledger_entries_balanced
  after insert on gw.ledger_entries
  deferrable initially deferred
  for each row execute function gw.check_ledger_transaction_balanced();
create constraint trigger ledger_transactions_have_entries
  after insert on gw.ledger_transactions
  deferrable initially deferred
  for each row execute function gw.check_ledger_transaction_balanced();

-- Posts one ledger transaction: p_entries is a JSON array of
-- {"account": code, "direction": "debit"|"credit", "amount": minor units, "currency": "USD"}.
-- Returns the new transaction id, or null when (payment, cause, kind) was already posted.
-- Accounts are created on first use and locked in id order before their balances move.
create function gw.post_transaction(
  p_merchant_id text, p_payment_id text, p_cause text, p_kind text, p_entries jsonb
) returns text
language plpgsql as $$
declare
  v_id text;
begin
  insert into gw.ledger_transactions (id, merchant_id, payment_id, cause, kind)
  values (gw.new_id('ltx'), p_merchant_id, p_payment_id, p_cause, p_kind)
  on conflict (payment_id, cause, kind) do nothing
  returning id into v_id;
  if v_id is null then
    return null;
  end if;

  insert into gw.ledger_accounts (merchant_id, code, currency)
  select distinct p_merchant_id, e->>'account', e->>'currency'
    from jsonb_array_elements(p_entries) e
   order by 2, 3
  on conflict (merchant_id, code, currency) do nothing;

  perform 1
     from gw.ledger_accounts a
    where a.merchant_id = p_merchant_id
      and (a.code, a.currency) in (select e->>'account', e->>'currency'
                                     from jsonb_array_elements(p_entries) e)
    order by a.id
      for update;

  insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
  select v_id, a.id, e->>'direction', (e->>'amount')::bigint, e->>'currency'
    from jsonb_array_elements(p_entries) with ordinality as x(e, n)
    join gw.ledger_accounts a
      on a.merchant_id = p_merchant_id and a.code = e->>'account' and a.currency = e->>'currency'
   order by n;

  update gw.ledger_accounts a
     set balance = a.balance + d.delta
    from (select a2.id,
                 sum(case e->>'direction' when 'debit' then (e->>'amount')::numeric
                                          else -(e->>'amount')::numeric end) as delta
            from jsonb_array_elements(p_entries) e
            join gw.ledger_accounts a2
              on a2.merchant_id = p_merchant_id and a2.code = e->>'account' and a2.currency = e->>'currency'
           group by a2.id) d
   where a.id = d.id;

  return v_id;
end
$$;
