-- Issue #17: one posting implementation that takes its input as rows, not JSON. gw.post_legs posts ledger transactions
-- given as legs (one row per entry, grouped into transactions by `n`); gw.post_transactions (JSON, the code's and
-- operators' way) becomes a wrapper that turns its JSON into legs, and settlement postings build their legs straight
-- from the reconciliation tables (no JSON built, aggregated and parsed back per line). The steps are sql/0136's:
-- accounts created on first use and locked once in id order, the new transactions, their entries and the balances they
-- move in one statement, then that statement's transactions checked balanced in one set-based query.

-- One entry of a transaction to post: its transaction (`n` groups the legs of one; payment, cause and kind are the
-- transaction's), the account code, 'debit' or 'credit', the amount in minor units (> 0) and the currency.
create type gw.ledger_leg as (
  n          bigint,
  payment_id text,
  cause      text,
  kind       text,
  account    text,
  direction  text,
  amount     bigint,
  currency   text
);

-- Posts the transactions of one merchant that p_legs describes; a transaction already posted for its (payment, cause,
-- kind) is skipped. Returns the new transactions' ids in `n` order. Raises check_violation (23514) for a transaction
-- with fewer than two entries or unbalanced in a currency.
create function gw.post_legs(p_merchant_id text, p_legs gw.ledger_leg[]) returns text[]
language plpgsql as $$
declare
  v_ids text[];
  v_short text;
  v_short_entries integer;
  v_unbalanced text;
  v_currency text;
begin
  insert into gw.ledger_accounts (merchant_id, code, currency)
  select distinct p_merchant_id, l.account, l.currency
    from unnest(p_legs) l
   order by 2, 3
  on conflict (merchant_id, code, currency) do nothing;

  perform 1
     from gw.ledger_accounts a
    where a.merchant_id = p_merchant_id
      and (a.code, a.currency) in (select l.account, l.currency from unnest(p_legs) l)
    order by a.id
      for update;

  -- the entries below belong to transactions this same statement creates; it checks them itself, just after
  perform set_config('gw.entries_checked_by_transaction', 'on', true);
  -- one statement: the transactions that are new, their entries, and the balances they move
  with legs as materialized (
    select l.n, l.payment_id, l.cause, l.kind, l.account, l.direction, l.amount, l.currency, l.m
      from unnest(p_legs) with ordinality as l(n, payment_id, cause, kind, account, direction, amount, currency, m)
  ), txs as materialized (
    select n, min(payment_id) as payment_id, min(cause) as cause, min(kind) as kind, gw.new_id('ltx') as id
      from legs
     group by n
  ), ins as (
    insert into gw.ledger_transactions (id, merchant_id, payment_id, cause, kind)
    select id, p_merchant_id, payment_id, cause, kind
      from txs
     order by n
    on conflict (payment_id, cause, kind) do nothing
    returning id
  ), posted as (
    select t.n, t.id
      from ins
      join txs t on t.id = ins.id
  ), lines as (
    select p.n, p.id, l.m, a.id as account_id, l.direction, l.amount, l.currency
      from posted p
      join legs l on l.n = p.n
      join gw.ledger_accounts a
        on a.merchant_id = p_merchant_id and a.code = l.account and a.currency = l.currency
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

-- sql/0009's JSON (an array of {"paymentId", "cause", "kind", "entries": [{"account", "direction", "amount",
-- "currency"}]}) as legs. A transaction given no entries has no legs to carry it: refused here, as the balance check
-- refused it before.
create or replace function gw.post_transactions(p_merchant_id text, p_transactions jsonb) returns text[]
language plpgsql as $$
declare
  v_empty text;
begin
  select t->>'cause' into v_empty
    from jsonb_array_elements(p_transactions) t
   where jsonb_typeof(t->'entries') is distinct from 'array' or jsonb_array_length(t->'entries') = 0
   limit 1;
  if found then
    raise exception 'ledger transaction of cause % has 0 entries; at least 2 are required', v_empty
      using errcode = 'check_violation';
  end if;
  return gw.post_legs(p_merchant_id, coalesce((
    select array_agg(row(t.n, t.t->>'paymentId', t.t->>'cause', t.t->>'kind', x.e->>'account', x.e->>'direction',
                         (x.e->>'amount')::bigint, x.e->>'currency')::gw.ledger_leg order by t.n, x.m)
      from jsonb_array_elements(p_transactions) with ordinality as t(t, n)
     cross join lateral jsonb_array_elements(t.t->'entries') with ordinality as x(e, m)), '{}'));
end
$$;
