-- The deferred balance check of sql/0005 fires at commit once per entry and once per ledger transaction, so a
-- settlement run of 100k lines runs it 400k times (bench:recon). Same rule, same errors, less work per firing:
-- one index scan of the transaction's entries (count and per-currency sums together) instead of two, and the
-- transaction id read from NEW directly instead of through to_jsonb(NEW).
create or replace function gw.check_ledger_transaction_balanced() returns trigger
language plpgsql as $$
declare
  v_transaction_id text;
  v_entries integer;
  v_currency text;
begin
  -- fired from both tables: an entry names its transaction, a transaction is itself (plpgsql compiles the function
  -- per trigger table, so each branch only ever reads a field its table has)
  if tg_table_name = 'ledger_entries' then
    v_transaction_id := new.transaction_id;
  else
    v_transaction_id := new.id;
  end if;
  select coalesce(sum(c.n), 0), min(c.currency) filter (where c.total <> 0)
    into v_entries, v_currency
    from (select currency, count(*) as n, sum(case direction when 'debit' then amount else -amount end) as total
            from gw.ledger_entries
           where transaction_id = v_transaction_id
           group by currency) c;
  if v_entries < 2 then
    raise exception 'ledger transaction % has % entries; at least 2 are required', v_transaction_id, v_entries
      using errcode = 'check_violation';
  end if;
  if v_currency is not null then
    raise exception 'ledger transaction % does not balance in %', v_transaction_id, v_currency
      using errcode = 'check_violation';
  end if;
  return null;
end
$$;
