-- Retention (docs/architecture.md "Retention").
--
-- The bytes that make the tables large move to their own tables, partitioned by month; a purge
-- drops whole expired partitions (DDL, no DELETE), so the append-only triggers stay as they
-- are. The rows they belong to stay where they were and are kept forever: inbound events keep
-- their unique (source_id, event_id), so duplicate detection stays exact however old the first
-- copy; events keep (merchant_id, dedupe_key) and every foreign key pointing at them; attempts
-- stay listed once their response body is gone.
--
--   gw.inbound_event_bodies     raw_body, headers of gw.inbound_events
--   gw.event_payloads           payload of gw.events
--   gw.attempt_response_bodies  response_body of gw.attempts (non-null ones)
--
-- Each is partitioned by range of its primary key, the id of its row: ids are time-sortable
-- (gw.new_id, src/core/ids.ts), so one UTC month is one id range, and a lookup by id touches
-- one partition. Month partitions are named <table>_yYYYYmMM (src/core/retention/partitions.ts
-- makes names and bounds; a cron task creates them ahead); a default partition catches ids no
-- month partition covers yet, so an insert never fails for want of one.

-- The instant a prefixed id (<prefix>_ + 12 hex digits of Unix ms + 20 hex digits) was made;
-- null for another shape.
create function gw.id_time(id text) returns timestamptz
language sql immutable strict as $$
  select case when id ~ '^[a-z]+_[0-9a-f]{32}$'
    then to_timestamp(('x' || lpad(substr(id, strpos(id, '_') + 1, 12), 16, '0'))::bit(64)::bigint / 1000.0)
  end
$$;

-- The smallest id with `prefix` made at `at` (zero randomness): a month partition's bound.
create function gw.id_lower_bound(prefix text, at timestamptz) returns text
language sql immutable strict as $$
  select prefix || '_' || lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || repeat('0', 20)
$$;

-- Creates partition gw.<part> of gw.<parent> for ids in [from_key, to_key) unless it exists; true when created.
create function gw.create_month_partition(parent text, part text, from_key text, to_key text)
returns boolean
language plpgsql as $$
begin
  if to_regclass(format('gw.%I', part)) is not null then
    return false;
  end if;
  execute format('create table gw.%I partition of gw.%I for values from (%L) to (%L)', part, parent, from_key, to_key);
  return true;
end $$;

-- Drops gw.<part>, which must be a month partition of gw.<parent> (never the default, never another table).
create function gw.drop_month_partition(parent text, part text) returns void
language plpgsql as $$
begin
  if part !~ '_y[0-9]{4}m[0-9]{2}$' or not exists (
       select 1 from pg_inherits i
        where i.inhparent = format('gw.%I', parent)::regclass
          and i.inhrelid = to_regclass(format('gw.%I', part))) then
    raise exception 'gw.% is not a month partition of gw.%', part, parent using errcode = 'invalid_parameter_value';
  end if;
  execute format('drop table gw.%I', part);
end $$;

-- Writers wait while the rows are copied (reads go on), so no row written meanwhile is missed.
lock table gw.inbound_events, gw.events, gw.attempts in share mode;

-- No foreign key to the row: a body is written only by the statement that inserts its row, and
-- those rows are never deleted; the key's check would lock the row (KEY SHARE) for every body
-- on the hot path (docs/architecture.md "Retention").
create table gw.inbound_event_bodies (
  inbound_event_id  text primary key,
  raw_body          bytea not null,
  headers           jsonb not null
) partition by range (inbound_event_id);

create table gw.event_payloads (
  event_id  text primary key,
  payload   bytea not null
) partition by range (event_id);

create table gw.attempt_response_bodies (
  attempt_id     text primary key,
  response_body  text not null
) partition by range (attempt_id);

-- Row triggers on a partitioned table are cloned onto every partition, present and future.
create trigger inbound_event_bodies_append_only
  before update or delete on gw.inbound_event_bodies
  for each row execute function gw.refuse_change();
create trigger event_payloads_append_only
  before update or delete on gw.event_payloads
  for each row execute function gw.refuse_change();
create trigger attempt_response_bodies_append_only
  before update or delete on gw.attempt_response_bodies
  for each row execute function gw.refuse_change();

create table gw.inbound_event_bodies_default partition of gw.inbound_event_bodies default;
create table gw.event_payloads_default partition of gw.event_payloads default;
create table gw.attempt_response_bodies_default partition of gw.attempt_response_bodies default;

-- A month partition for every month the existing ids were made in, this month and the next two.
select gw.create_month_partition(t.parent, t.parent || to_char(m.month at time zone 'UTC', '"_y"YYYY"m"MM'),
                                 gw.id_lower_bound(t.prefix, m.month),
                                 gw.id_lower_bound(t.prefix, (m.month at time zone 'UTC' + interval '1 month') at time zone 'UTC'))
  from (values ('inbound_event_bodies', 'iev'), ('event_payloads', 'evt'), ('attempt_response_bodies', 'att')) as t(parent, prefix)
  cross join lateral (
    select distinct date_trunc('month', ts, 'UTC') as month
      from (select gw.id_time(id) as ts from gw.inbound_events where t.parent = 'inbound_event_bodies'
            union all
            select gw.id_time(id) from gw.events where t.parent = 'event_payloads'
            union all
            select gw.id_time(id) from gw.attempts where t.parent = 'attempt_response_bodies' and response_body is not null
            union all
            select now() + make_interval(months => k) from generate_series(0, 2) as k) as x
     where ts is not null
  ) as m;

insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers)
select id, raw_body, headers from gw.inbound_events;
insert into gw.event_payloads (event_id, payload)
select id, payload from gw.events;
insert into gw.attempt_response_bodies (attempt_id, response_body)
select id, response_body from gw.attempts where response_body is not null;

-- Dropping a column is a catalog change (no rewrite); the space comes back as rows are vacuumed.
alter table gw.inbound_events drop column raw_body, drop column headers;
alter table gw.events drop column payload;
alter table gw.attempts drop column response_body;
