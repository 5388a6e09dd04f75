-- Where merchants receive webhooks. A deleted endpoint keeps its row (status 'deleted')
-- so its messages and attempts stay readable; it is never delivered to again.
create table gw.endpoints (
  id                     text primary key check (id like 'ep\_%'),
  merchant_id            text not null references gw.merchants (id),
  url                    text not null check (length(url) <= 2048),
  description            text,
  event_types            text[],
  status                 text not null default 'enabled' check (status in ('enabled', 'disabled', 'deleted')),
  rate_limit_per_second  integer check (rate_limit_per_second > 0),
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now()
);
create index endpoints_merchant_idx on gw.endpoints (merchant_id, id);

create table gw.endpoint_secrets (
  id           bigint generated always as identity primary key,
  endpoint_id  text not null references gw.endpoints (id),
  ciphertext   text not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz
);
create index endpoint_secrets_endpoint_idx on gw.endpoint_secrets (endpoint_id);

-- Events emitted to a merchant: the exact bytes that are signed and sent, once per
-- (merchant, dedupe key) so a replayed inbound event emits nothing new.
create table gw.events (
  id           text primary key check (id like 'evt\_%'),
  merchant_id  text not null references gw.merchants (id),
  type         text not null,
  payment_id   text references gw.payments (id),
  dedupe_key   text not null,
  payload      bytea not null,
  created_at   timestamptz not null default now(),
  constraint events_merchant_dedupe_key unique (merchant_id, dedupe_key)
);
create index events_merchant_idx on gw.events (merchant_id, id);
create trigger events_append_only
  before update or delete on gw.events
  for each row execute function gw.refuse_change();

-- One message per (event, endpoint); its id is the `webhook-id`, the same on every retry.
create table gw.messages (
  id               text primary key check (id like 'msg\_%'),
  event_id         text not null references gw.events (id),
  endpoint_id      text not null references gw.endpoints (id),
  merchant_id      text not null references gw.merchants (id),
  status           text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempts         integer not null default 0 check (attempts >= 0),
  next_attempt_at  timestamptz,
  last_attempt_at  timestamptz,
  created_at       timestamptz not null default now(),
  constraint messages_event_endpoint_key unique (event_id, endpoint_id)
);
create index messages_endpoint_idx on gw.messages (endpoint_id, id);

-- Every delivery attempt, append-only.
create table gw.attempts (
  id               text primary key check (id like 'att\_%'),
  message_id       text not null references gw.messages (id),
  event_id         text not null references gw.events (id),
  endpoint_id      text not null references gw.endpoints (id),
  attempt_number   integer not null check (attempt_number >= 1),
  status           text not null check (status in ('succeeded', 'failed')),
  response_status  integer,
  response_body    text,
  error            text,
  duration_ms      integer not null check (duration_ms >= 0),
  attempted_at     timestamptz not null,
  next_attempt_at  timestamptz,
  constraint attempts_message_number_key unique (message_id, attempt_number)
);
create index attempts_event_idx on gw.attempts (event_id, id);
create trigger attempts_append_only
  before update or delete on gw.attempts
  for each row execute function gw.refuse_change();
