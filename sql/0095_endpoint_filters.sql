-- Payload filters (README "Deliveries to merchants"): `filter` is a CEL expression over an event's `type` and
-- `data`; a message is made only for endpoints whose event types and filter both match. Checked by the API when
-- saved; evaluated in memory where events fan out (src/core/events/outbox.ts), never in SQL. `filter_version`
-- moves whenever the filter changes, so a process compiles each endpoint's filter once per version.
alter table gw.endpoints
  add column filter          text check (filter is null or length(filter) between 1 and 2000),
  add column filter_version  integer not null default 0 check (filter_version >= 0);
