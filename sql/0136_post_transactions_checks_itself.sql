-- Issue #17: what gw.post_transactions posts is checked balanced by the function itself, in one set-based query over
-- the transactions and entries its one statement inserted, instead of by the deferred trigger firing once per ledger
-- transaction at commit (sql/0135 had already stopped the firing per entry). Same rule, same words, same SQLSTATE
-- (23514); raised when the call is made rather than at commit.
--
-- Why that is as safe as the deferred check: the function inserts a transaction and all of its entries in one
-- statement, and a transaction cannot get entries afterwards except (a) from another database transaction, refused
-- when inserted (sql/0135, created_xid), or (b) by hand in the same database transaction, which queues the per-entry
-- deferred check (sql/0135) and so is checked at commit. Transactions inserted by hand keep their deferred check.
-- The mark that skips the deferred firings is a transaction-local setting: a role that sets it by hand to skip the
-- checks could as well disable the triggers of the tables it owns; the checks guard against mistakes, not owners.

drop trigger ledger_transactions_have_entries on gw.ledger_transactions;
create constraint trigger ledger_transactions_have_entries
  after insert on gw.ledger_transactions
  deferrable initially deferred
  for each row
  when (current_setting('gw.entries_checked_by_transaction', true) is distinct from 'on')
  execute function gw.check_ledger_transaction_balanced();

-- sql/0135's function, with its check made set-based, and the mark set before its transactions are inserted too.
create or replace function gw.post_transactions(p_merchant_id text, p_transactions jsonb) returns text[]
language plpgsql as $$
declare
  v_ids text[];
  v_short text;
  v_short_entries integer;
  v_unbalanced text;
  v_currency text;
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

  -- the entries below belong to transactions this same statement creates; it checks them itself, just after
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
  select coalesce((select array_agg(id order by n) from posted), '{}'),
         s.id, s.entries, u.id, u.currency
    into v_ids, v_short, v_short_entries, v_unbalanced, v_currency
    from (select 1) one
    left join lateral (select p.id, count(l.id)::int as entries
                         from posted p
                         left join lines l on l.id = p.id
                        group by p.id
                       having count(l.id) < 2
                        limit 1) s on true
    left join lateral (select id, currency
                         from lines
                        group by id, currency
                       having sum(case direction when 'debit' then amount else -amount end) <> 0
                        limit 1) u on true;
  perform set_config('gw.entries_checked_by_transaction', '', true);
  -- the rule and the words of gw.check_ledger_transaction_balanced (sql/0111), checked now over what was inserted
  if v_short is not null then
    raise exception 'ledger transaction % has % entries; at least 2 are required', v_short, v_short_entries
      using errcode = 'check_violation';
  end if;
  if v_unbalanced is not null then
    raise exception 'ledger transaction % does not balance in %', v_unbalanced, v_currency
      using errcode = 'check_violation';
  end if;
  return v_ids;
end
$$;
