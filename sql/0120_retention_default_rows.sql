-- Rows in the default partition of a retained table (sql/0025_retention.sql): bodies whose month
-- had no partition when they were written (the create_retention_partitions task stopped for
-- months, a clock far off). No purge drops the default partition, so they would be kept forever,
-- and a month's partition cannot be created while the default holds rows of that month (23514).
-- The create_retention_partitions task moves them into their month partitions first
-- (src/core/retention/retention.task.ts); the purge then drops those months like any other.

-- Moves the rows of gw.<parent>_default whose `key` is a `prefix` id with a time (gw.id_time) into
-- the month partitions of those times, creating them; returns how many moved (0: nothing to move,
-- nothing locked). One transaction: the default partition is detached, an empty one takes its
-- place, the rows go in again through the parent and the old table is dropped. No row is updated
-- or deleted (the append-only triggers stay as they are), and readers see every row either where
-- it was or where it went. The parent is locked (ACCESS EXCLUSIVE) for as long as the move takes,
-- in proportion to the rows in the default partition, which the task keeps empty. Rows whose id
-- has no time go back into the new default partition.
create function gw.move_default_partition_rows(parent text, key text, prefix text) returns bigint
language plpgsql as $$
declare
  dflt text := parent || '_default';
  held text := parent || '_default_moving';
  month timestamptz;
  moved bigint;
begin
  execute format('select count(*) from gw.%I where starts_with(%I, %L) and gw.id_time(%I) is not null',
                 dflt, key, prefix || '_', key)
     into moved;
  if moved = 0 then
    return 0;
  end if;
  execute format('alter table gw.%I detach partition gw.%I', parent, dflt);
  execute format('alter table gw.%I rename to %I', dflt, held);
  execute format('create table gw.%I partition of gw.%I default', dflt, parent);
  for month in execute format(
      'select distinct date_trunc(''month'', gw.id_time(%I), ''UTC'') from gw.%I where starts_with(%I, %L) and gw.id_time(%I) is not null',
      key, held, key, prefix || '_', key)
  loop
    perform gw.create_month_partition(parent, parent || to_char(month at time zone 'UTC', '"_y"YYYY"m"MM'),
                                      gw.id_lower_bound(prefix, month),
                                      gw.id_lower_bound(prefix, (month at time zone 'UTC' + interval '1 month') at time zone 'UTC'));
  end loop;
  execute format('insert into gw.%I select * from gw.%I', parent, held);
  execute format('drop table gw.%I', held);
  return moved;
end $$;
