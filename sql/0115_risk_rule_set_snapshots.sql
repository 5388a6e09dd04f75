-- Risk decisions name the rules they evaluated through a snapshot of the rule set (issue #18): the list of
-- {id, name, version, action} in evaluation order, written once per distinct content and merchant, instead of
-- ~2 KB of JSON on every decision row. Rows written before keep their own `evaluated` array.
create table gw.risk_rule_set_snapshots (
  -- lower-case hex SHA-256 of the merchant id, a newline and `rules` as the app serialized it
  id          text primary key check (id ~ '^[0-9a-f]{64}$'),
  merchant_id text not null references gw.merchants (id),
  rules       jsonb not null check (jsonb_typeof(rules) = 'array'),
  created_at  timestamptz not null default now()
);
create trigger risk_rule_set_snapshots_append_only
  before update or delete on gw.risk_rule_set_snapshots
  for each row execute function gw.refuse_change();
create trigger risk_rule_set_snapshots_no_truncate
  before truncate on gw.risk_rule_set_snapshots
  for each statement execute function gw.refuse_change();

alter table gw.risk_decisions add column rule_set_id text;
alter table gw.risk_decisions alter column evaluated drop not null;
-- validated by 0116 in its own transaction, so the scan holds no lock that blocks writes
alter table gw.risk_decisions
  add constraint risk_decisions_rule_set_fk foreign key (rule_set_id) references gw.risk_rule_set_snapshots (id) not valid;
alter table gw.risk_decisions
  add constraint risk_decisions_names_rules check (evaluated is not null or rule_set_id is not null) not valid;
