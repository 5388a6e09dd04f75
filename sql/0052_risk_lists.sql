-- Risk lists (issue #18 item 2): named sets of values rules read as `list("alias")`; every merchant has two built-in
-- block lists a rejected review fills, and a built-in rule blocking what is on them.

create table gw.risk_lists (
  id          text primary key check (id like 'rsl\_%'),
  merchant_id text not null references gw.merchants (id),
  alias       text not null check (alias ~ '^[a-z0-9_]{1,64}$'),
  item_type   text not null check (item_type in
                ('card_fingerprint', 'email', 'email_domain', 'ip', 'customer_id', 'card_bin', 'country')),
  built_in    text check (built_in in ('blocked_cards', 'blocked_customers')),
  created_at  timestamptz not null default now(),
  constraint risk_lists_alias_key unique (merchant_id, alias)
);

create table gw.risk_list_items (
  list_id    text not null references gw.risk_lists (id),
  value      text not null check (length(value) between 1 and 255),
  -- a person (`api`), or the rejected review that added it
  added_by   text not null,
  created_at timestamptz not null default now(),
  primary key (list_id, value)
);

-- Items change what rules decide: bump the merchant's rule-set version so caches reload.
create function gw.risk_list_changed() returns trigger
language plpgsql as $$
declare
  m text;
begin
  select merchant_id into m from gw.risk_lists where id = coalesce(new.list_id, old.list_id);
  update gw.risk_rule_sets set version = version + 1 where merchant_id = m;
  return null;
end $$;
create trigger risk_list_items_changed
  after insert or delete on gw.risk_list_items
  for each row execute function gw.risk_list_changed();

create function gw.add_default_risk_lists() returns trigger
language plpgsql as $$
begin
  insert into gw.risk_lists (id, merchant_id, alias, item_type, built_in, created_at) values
    (gw.new_id('rsl'), new.id, 'blocked_cards', 'card_fingerprint', 'blocked_cards', new.created_at),
    (gw.new_id('rsl'), new.id, 'blocked_customers', 'customer_id', 'blocked_customers', new.created_at);
  insert into gw.risk_rules (id, merchant_id, name, action, expression, built_in, created_at, updated_at)
  values (gw.new_id('rul'), new.id, 'Blocked card or customer', 'block',
          'card.fingerprint in list("blocked_cards") || customer.id in list("blocked_customers")', 'block_lists',
          new.created_at, new.created_at);
  return null;
end $$;

alter table gw.risk_rules drop constraint risk_rules_built_in_check;
alter table gw.risk_rules add constraint risk_rules_built_in_check check (built_in in ('duplicate_payment', 'block_lists')) not valid;
alter table gw.risk_rules validate constraint risk_rules_built_in_check;

create trigger merchants_default_risk_lists
  after insert on gw.merchants
  for each row execute function gw.add_default_risk_lists();
insert into gw.risk_lists (id, merchant_id, alias, item_type, built_in)
select gw.new_id('rsl'), m.id, l.alias, l.item_type, l.alias
  from gw.merchants m
  cross join (values ('blocked_cards', 'card_fingerprint'), ('blocked_customers', 'customer_id')) as l (alias, item_type);
insert into gw.risk_rules (id, merchant_id, name, action, expression, built_in)
select gw.new_id('rul'), m.id, 'Blocked card or customer', 'block',
       'card.fingerprint in list("blocked_cards") || customer.id in list("blocked_customers")', 'block_lists'
  from gw.merchants m;
