-- switchyard:no-transaction
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
--
-- The conversion runs online. This file runs outside a transaction, one statement at a time
-- (src/app/db/migrate.ts), so no lock is held across the copy and writers go on:
--   1. the functions, the body tables and their partitions (new tables: no lock on the old ones);
--   2. a statement trigger on each old table copies the bodies of the rows inserted from then on;
--      creating it waits for the writes in flight, so a row it does not see was committed before;
--   3. the bodies stored before are copied in batches of switchyard.conversion_batch_rows rows
--      (default 10,000), each its own transaction; ON CONFLICT DO NOTHING skips what 2 copied;
--   4. under ACCESS EXCLUSIVE on the three tables, the triggers and the old columns are dropped:
--      catalog changes, nothing left to copy (every row went through 2 or 3), no scan.
-- Locks on the old tables (2 and 4) are asked for with a 500 ms lock_timeout per table and
-- retried, so a writer queued behind the request waits at most about 1.5 s. Every statement is
-- safe to run again (a failed run runs whole again); 2 to 4 run only while the old columns
-- exist. The schema left is the one the first version of this file left (it copied under a
-- SHARE lock).

-- The instant a prefixed id (<prefix>_ + 12 hex digits of Unix ms + 20 hex digits) was made;
-- null for another shape.
create or replace function gw.id_time(id text) returns timestamptz
language sql immutable strict as $$
  select case when id ~ '^[a-z]+_[0-9a-f]{32}$'
    then to_timestamp(('x' || lpad(substr(id, strpos(id, '_') + 1, 12), 16, '0'))::bit(64)::bigint / 1000.0)
  end
$$;

-- The smallest id with `prefix` made at `at` (zero randomness): a month partition's bound.
create or replace function gw.id_lower_bound(prefix text, at timestamptz) returns text
language sql immutable strict as $$
  select prefix || '_' || lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || repeat('0', 20)
$$;

-- Creates partition gw.<part> of gw.<parent> for ids in [from_key, to_key) unless it exists; true when created.
create or replace function gw.create_month_partition(parent text, part text, from_key text, to_key text)
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
create or replace function gw.drop_month_partition(parent text, part text) returns void
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

-- No foreign key to the row: a body is written only by the statement that inserts its row, and
-- those rows are never deleted; the key's check would lock the row (KEY SHARE) for every body
-- on the hot path (docs/architecture.md "Retention").
create table if not exists gw.inbound_event_bodies (
  inbound_event_id  text primary key,
  raw_body          bytea not null,
  headers           jsonb not null
) partition by range (inbound_event_id);

create table if not exists gw.event_payloads (
  event_id  text primary key,
  payload   bytea not null
) partition by range (event_id);

create table if not exists gw.attempt_response_bodies (
  attempt_id     text primary key,
  response_body  text not null
) partition by range (attempt_id);

-- Row triggers on a partitioned table are cloned onto every partition, present and future.
create or replace trigger inbound_event_bodies_append_only
  before update or delete on gw.inbound_event_bodies
  for each row execute function gw.refuse_change();
create or replace trigger event_payloads_append_only
  before update or delete on gw.event_payloads
  for each row execute function gw.refuse_change();
create or replace trigger attempt_response_bodies_append_only
  before update or delete on gw.attempt_response_bodies
  for each row execute function gw.refuse_change();

create table if not exists gw.inbound_event_bodies_default partition of gw.inbound_event_bodies default;
create table if not exists gw.event_payloads_default partition of gw.event_payloads default;
create table if not exists gw.attempt_response_bodies_default partition of gw.attempt_response_bodies default;

-- True while the old body columns exist: steps 2 to 4 still to do (dropped at the end of this file).
create or replace function gw.retention_conversion_pending() returns boolean
language sql stable as $$
  select exists (select 1 from pg_attribute
                  where attrelid = 'gw.inbound_events'::regclass and attname = 'raw_body' and not attisdropped)
$$;

-- Takes `mode` on the three old tables, each wait bounded by 500 ms and retried (about a minute
-- in all, then the error): a writer queued behind a request waits about one wait per table at most.
create or replace function gw.retention_conversion_lock(mode text) returns void
language plpgsql as $$
declare
  tries int := 0;
begin
  loop
    begin
      perform set_config('lock_timeout', '500ms', true);
      execute format('lock table gw.inbound_events, gw.events, gw.attempts in %s mode', mode);
      return;
    exception when lock_not_available then
      tries := tries + 1;
      if tries >= 120 then
        raise;
      end if;
      perform pg_sleep(0.2 + random() * 0.3);
    end;
  end loop;
end $$;

-- A month partition for every month the existing ids were made in, this month and the next two.
do $$
begin
  if not gw.retention_conversion_pending() then
    return;
  end if;
  perform gw.create_month_partition(t.parent, t.parent || to_char(m.month at time zone 'UTC', '"_y"YYYY"m"MM'),
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
end $$;

-- Step 2: the bodies of the rows inserted while the stored ones are copied.
create or replace function gw.retention_conversion_copy() returns trigger
language plpgsql as $$
begin
  if tg_table_name = 'inbound_events' then
    insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers)
    select id, raw_body, headers from new_rows
    on conflict do nothing;
  elsif tg_table_name = 'events' then
    insert into gw.event_payloads (event_id, payload)
    select id, payload from new_rows
    on conflict do nothing;
  else
    insert into gw.attempt_response_bodies (attempt_id, response_body)
    select id, response_body from new_rows where response_body is not null
    on conflict do nothing;
  end if;
  return null;
end $$;

do $$
begin
  if not gw.retention_conversion_pending() then
    return;
  end if;
  -- SHARE ROW EXCLUSIVE waits for the writes in flight: once held, every later insert fires the trigger.
  perform gw.retention_conversion_lock('share row exclusive');
  create or replace trigger inbound_events_retention_copy
    after insert on gw.inbound_events referencing new table as new_rows
    for each statement execute function gw.retention_conversion_copy();
  create or replace trigger events_retention_copy
    after insert on gw.events referencing new table as new_rows
    for each statement execute function gw.retention_conversion_copy();
  create or replace trigger attempts_retention_copy
    after insert on gw.attempts referencing new table as new_rows
    for each statement execute function gw.retention_conversion_copy();
end $$;

-- Step 3: the bodies stored before step 2, in primary-key order, a batch per transaction.
do $$
declare
  batch int := coalesce(nullif(current_setting('switchyard.conversion_batch_rows', true), ''), '10000')::int;
  after_id text := '';
  n int;
begin
  if not gw.retention_conversion_pending() then
    return;
  end if;
  loop
    with b as (
      select id, raw_body, headers from gw.inbound_events where id > after_id order by id limit batch
    ), ins as (
      insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers)
      select id, raw_body, headers from b
      on conflict do nothing
    )
    select count(*), max(id) into n, after_id from b;
    commit;
    exit when n < batch;
  end loop;
end $$;

do $$
declare
  batch int := coalesce(nullif(current_setting('switchyard.conversion_batch_rows', true), ''), '10000')::int;
  after_id text := '';
  n int;
begin
  if not gw.retention_conversion_pending() then
    return;
  end if;
  loop
    with b as (
      select id, payload from gw.events where id > after_id order by id limit batch
    ), ins as (
      insert into gw.event_payloads (event_id, payload)
      select id, payload from b
      on conflict do nothing
    )
    select count(*), max(id) into n, after_id from b;
    commit;
    exit when n < batch;
  end loop;
end $$;

do $$
declare
  batch int := coalesce(nullif(current_setting('switchyard.conversion_batch_rows', true), ''), '10000')::int;
  after_id text := '';
  n int;
begin
  if not gw.retention_conversion_pending() then
    return;
  end if;
  loop
    with b as (
      select id, response_body from gw.attempts where id > after_id order by id limit batch
    ), ins as (
      insert into gw.attempt_response_bodies (attempt_id, response_body)
      select id, response_body from b where response_body is not null
      on conflict do nothing
    )
    select count(*), max(id) into n, after_id from b;
    commit;
    exit when n < batch;
  end loop;
end $$;

-- Step 4. Dropping a column is a catalog change (no rewrite); the space comes back as rows are vacuumed.
do $$
begin
  perform gw.retention_conversion_lock('access exclusive');
  drop trigger if exists inbound_events_retention_copy on gw.inbound_events;
  drop trigger if exists events_retention_copy on gw.events;
  drop trigger if exists attempts_retention_copy on gw.attempts;
  alter table gw.inbound_events drop column if exists raw_body, drop column if exists headers;
  alter table gw.events drop column if exists payload;
  alter table gw.attempts drop column if exists response_body;
end $$;

drop function if exists gw.retention_conversion_copy();
drop function if exists gw.retention_conversion_lock(text);
drop function if exists gw.retention_conversion_pending();
