-- A risk decision's rule-set snapshot is checked once per INSERT statement instead of by a foreign key (issue #18).
-- The key's check ran once per decision row and took a KEY SHARE lock on the snapshot row, the same row for every
-- concurrent worker of a merchant, so each transaction turned that lock into a new multixact. The lock guards nothing
-- here: snapshots are append-only (UPDATE, DELETE and TRUNCATE raise, sql/0115), so a snapshot seen once stays.
alter table gw.risk_decisions drop constraint risk_decisions_rule_set_fk;

create function gw.risk_decisions_rule_set_stored() returns trigger
language plpgsql as $$
begin
  if exists (select 1 from new_decisions d
              where d.rule_set_id is not null
                and not exists (select 1 from gw.risk_rule_set_snapshots s where s.id = d.rule_set_id)) then
    raise exception 'a risk decision names a rule-set snapshot that is not stored'
      using errcode = '23503', constraint = 'risk_decisions_rule_set_stored';
  end if;
  return null;
end $$;

create trigger risk_decisions_rule_set_stored
  after insert on gw.risk_decisions
  referencing new table as new_decisions
  for each statement execute function gw.risk_decisions_rule_set_stored();
