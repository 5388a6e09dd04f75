-- Switchyard's own schema. Every table lives in `gw`; graphile-worker keeps its own
-- schema (`graphile_worker`), migrated by graphile-worker itself before these files run.

create schema if not exists gw;

-- Prefixed, time-sortable ids: `<prefix>_` + 12 hex digits of Unix milliseconds + 20 hex
-- digits of randomness (the layout of a UUIDv7 body). src/core/ids.ts makes the same shape.
create function gw.new_id(prefix text) returns text
language sql volatile as $$
  select prefix || '_'
      || lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0')
      || substr(replace(gen_random_uuid()::text, '-', ''), 1, 20)
$$;

-- Trigger function for append-only tables: UPDATE and DELETE raise.
create function gw.refuse_change() returns trigger
language plpgsql as $$
begin
  raise exception '% on %.% is not allowed: the table is append-only', tg_op, tg_table_schema, tg_table_name
    using errcode = 'restrict_violation';
end
$$;
