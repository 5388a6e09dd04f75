-- Issue #20 items 1 and 2: API keys as objects (name, permissions, expiry, last use) and the audit log.

-- `permissions` null is a full key (`sk_…`): every key made before this file keeps working as one.
-- A restricted key (`rk_…`) maps each resource to 'none' | 'read' | 'write'; a resource it does not
-- name is 'none'. `expires_at` ends a key (a rolled key's old secret works until then);
-- `last_used_at` is written at most once a minute per key, not per request.
alter table gw.api_keys
  add column name          text,
  add column permissions   jsonb,
  add column expires_at    timestamptz,
  add column last_used_at  timestamptz;

alter table gw.api_keys
  add constraint api_keys_permissions_object
  check (permissions is null or jsonb_typeof(permissions) = 'object') not valid;
alter table gw.api_keys validate constraint api_keys_permissions_object;

alter table gw.api_keys
  add constraint api_keys_name_length
  check (name is null or length(name) between 1 and 200) not valid;
alter table gw.api_keys validate constraint api_keys_name_length;

-- One row per mutating request (API, admin, portal): who, which operation, on what, and how it ended.
-- Written in the request's own transaction when the request committed, else in one of its own.
-- No body, header or secret is ever kept here.
create table gw.audit_log (
  id              text primary key check (id like 'aud\_%'),
  merchant_id     text references gw.merchants (id),
  actor_type      text not null check (actor_type in ('api_key', 'admin', 'portal_session', 'anonymous')),
  actor_id        text check (length(actor_id) <= 100),
  actor_prefix    text check (length(actor_prefix) <= 20),
  operation       text not null check (length(operation) between 1 and 200),
  method          text not null check (method ~ '^[A-Z]{1,10}$'),
  path            text not null check (length(path) <= 300),
  object_ids      text[] not null default '{}' check (cardinality(object_ids) <= 20),
  request_id      text not null check (length(request_id) <= 64),
  client_address  text check (length(client_address) <= 100),
  user_agent      text check (length(user_agent) <= 300),
  status          int not null check (status between 100 and 599),
  at              timestamptz not null default now()
);
create index audit_log_merchant_idx on gw.audit_log (merchant_id, id);
create index audit_log_objects_idx on gw.audit_log using gin (object_ids);

-- Append-only: rows are never changed or removed (TRUNCATE included).
create function gw.audit_log_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'gw.audit_log is append-only: % refused', tg_op
    using errcode = 'restrict_violation';
end;
$$;

create trigger audit_log_no_update_delete
  before update or delete on gw.audit_log
  for each row execute function gw.audit_log_append_only();
create trigger audit_log_no_truncate
  before truncate on gw.audit_log
  for each statement execute function gw.audit_log_append_only();
