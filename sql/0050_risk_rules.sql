-- Risk rules (issue #18): per-merchant CEL rules, their versions, the payment facts duplicate and velocity counts read,
-- and the append-only decisions.

-- A merchant's rules. A change bumps `version` and appends a row to risk_rule_versions; DELETE sets deleted_at, so
-- every decision can still name the rule version it ran.
create table gw.risk_rules (
  id          text primary key check (id like 'rul\_%'),
  merchant_id text not null references gw.merchants (id),
  name        text not null check (length(name) between 1 and 200),
  action      text not null check (action in ('allow', 'review', 'block')),
  expression  text not null check (length(expression) between 1 and 2000),
  enabled     boolean not null default true,
  -- lower runs first within an action
  priority    integer not null default 0 check (priority between -1000000 and 1000000),
  version     integer not null default 1 check (version >= 1),
  -- 'duplicate_payment' for the default rule every merchant gets
  built_in    text check (built_in in ('duplicate_payment')),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  deleted_at  timestamptz
);
create index risk_rules_merchant_idx on gw.risk_rules (merchant_id, id) where deleted_at is null;
create unique index risk_rules_built_in_key on gw.risk_rules (merchant_id, built_in) where built_in is not null;

-- Every version of every rule, as it was: never updated or deleted.
create table gw.risk_rule_versions (
  rule_id    text not null references gw.risk_rules (id),
  version    integer not null,
  name       text not null,
  action     text not null,
  expression text not null,
  enabled    boolean not null,
  priority   integer not null,
  deleted    boolean not null,
  at         timestamptz not null,
  primary key (rule_id, version)
);
create trigger risk_rule_versions_append_only
  before update or delete on gw.risk_rule_versions
  for each row execute function gw.refuse_change();
create trigger risk_rule_versions_no_truncate
  before truncate on gw.risk_rule_versions
  for each statement execute function gw.refuse_change();

-- One row per merchant: a version bumped on any change of its rules (or lists), and how many rules are enabled, so
-- the processing path reads one small row per merchant per batch and recompiles only what changed.
create table gw.risk_rule_sets (
  merchant_id   text primary key references gw.merchants (id),
  version       bigint not null default 1,
  enabled_rules integer not null default 0 check (enabled_rules >= 0)
);

create function gw.risk_rule_changed() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and new.version <> old.version + 1 then
    raise exception 'a risk rule version moves by one (% → %)', old.version, new.version using errcode = '23514';
  end if;
  if tg_op = 'UPDATE' and old.deleted_at is not null then
    raise exception 'risk rule % is deleted', old.id using errcode = '23514';
  end if;
  insert into gw.risk_rule_versions (rule_id, version, name, action, expression, enabled, priority, deleted, at)
  values (new.id, new.version, new.name, new.action, new.expression, new.enabled, new.priority, new.deleted_at is not null, new.updated_at);
  insert into gw.risk_rule_sets as s (merchant_id, version, enabled_rules)
  values (new.merchant_id, 1,
          (select count(*) from gw.risk_rules r where r.merchant_id = new.merchant_id and r.enabled and r.deleted_at is null))
  on conflict (merchant_id) do update set version = s.version + 1, enabled_rules = excluded.enabled_rules;
  return null;
end $$;
create trigger risk_rules_changed
  after insert or update on gw.risk_rules
  for each row execute function gw.risk_rule_changed();
create trigger risk_rules_no_delete
  before delete on gw.risk_rules
  for each row execute function gw.refuse_change();

-- Every merchant starts with the built-in, editable duplicate rule (README "Risk rules").
create function gw.add_default_risk_rules() returns trigger
language plpgsql as $$
begin
  insert into gw.risk_rules (id, merchant_id, name, action, expression, built_in, created_at, updated_at)
  values (gw.new_id('rul'), new.id, 'Possible duplicate payment', 'review', 'duplicates_24h > 0', 'duplicate_payment',
          new.created_at, new.created_at);
  return null;
end $$;
create trigger merchants_default_risk_rules
  after insert on gw.merchants
  for each row execute function gw.add_default_risk_rules();
insert into gw.risk_rules (id, merchant_id, name, action, expression, built_in)
select gw.new_id('rul'), m.id, 'Possible duplicate payment', 'review', 'duplicates_24h > 0', 'duplicate_payment' from gw.merchants m;

-- What rules saw of each assessed payment, for duplicate and velocity counts. subject_id is the payment, or the
-- create operation of a payment made through POST /v1/payments (its payment row does not exist yet).
-- duplicate_key is (customer id, else card fingerprint, else e-mail) + amount + currency + UTC day.
create table gw.risk_payment_facts (
  subject_id       text primary key check (subject_id like 'pay\_%' or subject_id like 'pop\_%'),
  merchant_id      text not null references gw.merchants (id),
  duplicate_key    text,
  card_fingerprint text,
  customer_id      text,
  amount           bigint not null check (amount >= 0),
  currency         text not null check (currency ~ '^[A-Z]{3}$'),
  -- the latest earlier subject with the same duplicate_key in the 24 h before, when there was one
  duplicate_of     text,
  seen_at          timestamptz not null
);
create index risk_payment_facts_duplicate_idx on gw.risk_payment_facts (merchant_id, duplicate_key, seen_at)
  where duplicate_key is not null;
create index risk_payment_facts_card_idx on gw.risk_payment_facts (merchant_id, card_fingerprint, seen_at)
  where card_fingerprint is not null;
create index risk_payment_facts_customer_idx on gw.risk_payment_facts (merchant_id, customer_id, currency, seen_at)
  include (amount) where customer_id is not null;
create trigger risk_payment_facts_append_only
  before update or delete on gw.risk_payment_facts
  for each row execute function gw.refuse_change();

-- One row per evaluation of a payment's rules: never updated or deleted. `payment_id` is null for a payment the
-- API refused (block) or whose creation is in flight (`operation_id` then names it).
create table gw.risk_decisions (
  id            bigint generated always as identity primary key,
  merchant_id   text not null references gw.merchants (id),
  payment_id    text references gw.payments (id),
  operation_id  text,
  stage         text not null check (stage in ('api', 'inbound')),
  action        text not null check (action in ('allow', 'review', 'block')),
  -- the rule that decided: {id, name, version, action}, null when no rule matched (allowed)
  decided_by    jsonb,
  -- every rule that matched, and every rule evaluated: [{id, name, version, action}]
  matched       jsonb not null,
  evaluated     jsonb not null,
  -- the attribute values the rules saw (int attributes as decimal strings)
  attributes    jsonb not null,
  cause         text not null,
  decided_at    timestamptz not null
);
create index risk_decisions_payment_idx on gw.risk_decisions (payment_id) where payment_id is not null;
create index risk_decisions_operation_idx on gw.risk_decisions (operation_id) where operation_id is not null;
create trigger risk_decisions_append_only
  before update or delete on gw.risk_decisions
  for each row execute function gw.refuse_change();
create trigger risk_decisions_no_truncate
  before truncate on gw.risk_decisions
  for each statement execute function gw.refuse_change();
