-- Issue #17: the deferred balance check of sql/0005 (sql/0111) ran at commit once per entry as well as once per ledger
-- transaction, so a transaction of three entries was summed four times. For what gw.post_transactions posts it now
-- runs once per ledger transaction (ledger_transactions_have_entries, unchanged): at commit it sees every entry that
-- database transaction added.
-- The per-entry firing also refused an entry added later, by another database transaction, to a transaction already
-- committed; that stays refused by a cheaper rule, checked when the entries are inserted (one firing per statement):
-- an entry's ledger transaction must have been created by the same database transaction.

-- The top-level database transaction that created the row (pg_current_xact_id() is the top-level id inside savepoints
-- and PL/pgSQL exception blocks too; xid8 never wraps around). Null for rows older than this file: entries can never
-- be added to those. No table rewrite: no default for the existing rows, the default applies to new ones.
alter table gw.ledger_transactions add column created_xid xid8;
alter table gw.ledger_transactions alter column created_xid set default pg_current_xact_id();

-- Refuses a statement that adds entries to a ledger transaction another database transaction created.
create function gw.refuse_entries_of_earlier_transactions() returns trigger
language plpgsql as $$
declare
  v_transaction_id text;
begin
  select t.id into v_transaction_id
    from (select distinct transaction_id from new_entries) e
    join gw.ledger_transactions t on t.id = e.transaction_id
   where t.created_xid is distinct from pg_current_xact_id()
   limit 1;
  if found then
    raise exception 'ledger transaction % was created by an earlier database transaction: entries cannot be added to it',
      v_transaction_id
      using errcode = 'check_violation', hint = 'A correction is a new, reversing transaction.';
  end if;
  return null;
end
$$;

create trigger ledger_entries_same_database_transaction
  after insert on gw.ledger_entries
  referencing new table as new_entries
  for each statement execute function gw.refuse_entries_of_earlier_transactions();

-- The per-entry check stays for entries inserted any other way (by hand, in a migration): after SET CONSTRAINTS …
-- IMMEDIATE has checked a transaction, an entry the same database transaction adds to it later is still checked at
-- commit. gw.post_transactions, the one way the code posts, inserts each transaction's entries in the statement that
-- creates the transaction, and marks that statement so the per-entry firing is not queued for it.
drop trigger ledger_entries_balanced on gw.ledger_entries;
create constraint trigger ledger_entries_balanced
  after insert on gw.ledger_entries
  deferrable initially deferred
  for each row
  when (current_setting('gw.entries_checked_by_transaction', true) is distinct from 'on')
  execute function gw.check_ledger_transaction_balanced();

-- sql/0009's function, with its entry statement marked as above (the mark is transaction-local and cleared after it),
-- and each new transaction found again by the id it was given rather than by its (payment, cause, kind).
create or replace function gw.post_transactions(p_merchant_id text, p_transactions jsonb) returns text[]
language plpgsql as $$
declare
  v_ids text[];
begin
  insert into gw.ledger_accounts (merchant_id, code, currency)
  select distinct p_merchant_id, e->>'account', e->>'currency'
    from jsonb_array_elements(p_transactions) t, jsonb_array_elements(t->'entries') e
   order by 2, 3
  on conflict (merchant_id, code, currency) do nothing;

  perform 1
     from gw.ledger_accounts a
    where a.merchant_id = p_merchant_id
      and (a.code, a.currency) in (select e->>'account', e->>'currency'
                                     from jsonb_array_elements(p_transactions) t,
                                          jsonb_array_elements(t->'entries') e)
    order by a.id
      for update;

  -- the entries below belong to transactions this same statement creates, which their own deferred check covers
  perform set_config('gw.entries_checked_by_transaction', 'on', true);
  -- one statement: the transactions that are new, their entries, and the balances they move
  with input as materialized (
    select n, t, gw.new_id('ltx') as id
      from jsonb_array_elements(p_transactions) with ordinality as x(t, n)
  ), ins as (
    insert into gw.ledger_transactions (id, merchant_id, payment_id, cause, kind)
    select id, p_merchant_id, t->>'paymentId', t->>'cause', t->>'kind'
      from input
     order by n
    on conflict (payment_id, cause, kind) do nothing
    returning id
  ), posted as (
    -- by the id given before the insert: one hashable key (matching back on (payment, cause, kind), with its
    -- IS NOT DISTINCT FROM, was planned as a nested loop, quadratic in the transactions of one call)
    select i.n, i.id, i.t
      from ins
      join input i on i.id = ins.id
  ), lines as (
    select p.n, p.id, x.m, a.id as account_id, x.e->>'direction' as direction,
           (x.e->>'amount')::bigint as amount, x.e->>'currency' as currency
      from posted p
      cross join lateral jsonb_array_elements(p.t->'entries') with ordinality as x(e, m)
      join gw.ledger_accounts a
        on a.merchant_id = p_merchant_id and a.code = x.e->>'account' and a.currency = x.e->>'currency'
  ), entries as (
    insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
    select id, account_id, direction, amount, currency
      from lines
     order by n, m
  ), moved as (
    update gw.ledger_accounts a
       set balance = a.balance + d.delta
      from (select account_id,
                   sum(case direction when 'debit' then amount::numeric else -amount::numeric end) as delta
              from lines
             group by account_id) d
     where a.id = d.account_id
  )
  select coalesce(array_agg(id order by n), '{}') into v_ids from posted;
  perform set_config('gw.entries_checked_by_transaction', '', true);
  return v_ids;
end
$$;
