-- Retention (docs/architecture.md "Retention").
--
-- The bytes that make the tables large move to their own tables, partitioned by month on the
-- time of the row they belong to; a purge drops whole expired partitions (DDL, no DELETE), so
-- the append-only triggers stay as they are. The rows they belong to stay where they were and
-- are kept forever: inbound events keep their unique (source_id, event_id), so duplicate
-- detection stays exact however old the first copy; events keep (merchant_id, dedupe_key) and
-- every foreign key pointing at them; attempts stay listed once their response body is gone.
--
--   gw.inbound_event_bodies     raw_body, headers of gw.inbound_events   by received_at
--   gw.event_payloads           payload of gw.events                     by created_at
--   gw.attempt_response_bodies  response_body of gw.attempts (non-null)  by attempted_at
--
-- Each has one partition per UTC month, named <table>_yYYYYmMM (src/core/retention/partitions.ts
-- makes the names and bounds; a cron task creates them ahead), and a default partition that
-- catches rows no month partition covers yet, so an insert never fails for want of one.

-- Creates partition gw.<part> of gw.<parent> for [from_ts, to_ts) unless it exists; true when created.
-- Bounds are written as UTC literals, so the session's TimeZone and DateStyle do not matter.
create function gw.create_month_partition(parent text, part text, from_ts timestamptz, to_ts timestamptz)
returns boolean
language plpgsql as $$
begin
  if to_regclass(format('gw.%I', part)) is not null then
    return false;
  end if;
  execute format('create table gw.%I partition of gw.%I for values from (%L) to (%L)',
                 part, parent,
                 to_char(from_ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00',
                 to_char(to_ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00');
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

create table gw.inbound_event_bodies (
  inbound_event_id  text not null references gw.inbound_events (id),
  received_at       timestamptz not null,
  raw_body          bytea not null,
  headers           jsonb not null,
  primary key (inbound_event_id, received_at)
) partition by range (received_at);

create table gw.event_payloads (
  event_id    text not null references gw.events (id),
  created_at  timestamptz not null,
  payload     bytea not null,
  primary key (event_id, created_at)
) partition by range (created_at);

create table gw.attempt_response_bodies (
  attempt_id     text not null references gw.attempts (id),
  attempted_at   timestamptz not null,
  response_body  text not null,
  primary key (attempt_id, attempted_at)
) partition by range (attempted_at);

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

-- A month partition for every month the existing rows fall in, this month and the next two.
select gw.create_month_partition(t.parent, t.parent || to_char(m.month at time zone 'UTC', '"_y"YYYY"m"MM'),
                                 m.month, (m.month at time zone 'UTC' + interval '1 month') at time zone 'UTC')
  from (values ('inbound_event_bodies'), ('event_payloads'), ('attempt_response_bodies')) as t(parent)
  cross join lateral (
    select distinct date_trunc('month', ts, 'UTC') as month
      from (select received_at as ts from gw.inbound_events where t.parent = 'inbound_event_bodies'
            union all
            select created_at from gw.events where t.parent = 'event_payloads'
            union all
            select attempted_at from gw.attempts where t.parent = 'attempt_response_bodies' and response_body is not null
            union all
            select now() + make_interval(months => k) from generate_series(0, 2) as k) as x
  ) as m;

insert into gw.inbound_event_bodies (inbound_event_id, received_at, raw_body, headers)
select id, received_at, raw_body, headers from gw.inbound_events;
insert into gw.event_payloads (event_id, created_at, payload)
select id, created_at, payload from gw.events;
insert into gw.attempt_response_bodies (attempt_id, attempted_at, response_body)
select id, attempted_at, response_body from gw.attempts where response_body is not null;

-- Dropping a column is a catalog change (no rewrite); the space comes back as rows are vacuumed.
alter table gw.inbound_events drop column raw_body, drop column headers;
alter table gw.events drop column payload;
alter table gw.attempts drop column response_body;
