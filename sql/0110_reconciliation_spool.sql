-- The raw bytes of a settlement report between the request (or pull) that received it and the job that reads it
-- (issue #17: an upload must not wait for its load). Working storage, not a record: rows are written in the
-- transaction that creates the run, so a cut body leaves none, and the job deletes a run's rows in the transaction
-- that loads its lines into gw.reconciliation_items (or fails the run).
create table gw.reconciliation_spool (
  run_id  text not null references gw.reconciliation_runs (id),
  -- the chunk's place in the report, from 0
  seq     integer not null check (seq >= 0),
  data    bytea not null check (octet_length(data) > 0),
  primary key (run_id, seq)
);
-- A report is read once and deleted: compressing a few MiB per row would cost the upload CPU for no lasting gain.
alter table gw.reconciliation_spool alter column data set storage external;
