-- The master key this database's secrets are sealed under, as a check value.
--
-- One row: a known constant sealed with the SecretBox (src/core/secrets.ts) by the first
-- process that starts on the database. Every start opens it (src/runtime.ts prepare) and
-- refuses to run when it cannot: a different SWITCHYARD_MASTER_KEY would otherwise fail
-- each inbound request, secret read and delivery one by one. The key itself is never here.
create table gw.master_key_check (
  id          boolean primary key default true check (id),
  envelope    text not null,
  created_at  timestamptz not null default now()
);
