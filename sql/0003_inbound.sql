-- PSP accounts whose callbacks Switchyard receives.
create table gw.sources (
  id                 text primary key check (id like 'src\_%'),
  merchant_id        text not null references gw.merchants (id),
  provider           text not null check (provider in (
                       'stripe', 'standard-webhooks', 'adyen', 'razorpay', 'checkout',
                       'paystack', 'square', 'gocardless', 'mercadopago')),
  name               text,
  tolerance_seconds  integer not null default 300 check (tolerance_seconds between 1 and 86400),
  created_at         timestamptz not null default now()
);
create index sources_merchant_idx on gw.sources (merchant_id, id);

-- Signing secrets, encrypted (AES-256-GCM envelope, see src/core/secrets.ts). Several may
-- be active at once during a rotation; a secret verifies while expires_at is null or future.
create table gw.source_secrets (
  id           bigint generated always as identity primary key,
  source_id    text not null references gw.sources (id),
  ciphertext   text not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz
);
create index source_secrets_source_idx on gw.source_secrets (source_id);

-- What PSPs sent, byte for byte, once per (source, PSP event id).
create table gw.inbound_events (
  id            text primary key check (id like 'iev\_%'),
  source_id     text not null references gw.sources (id),
  merchant_id   text not null references gw.merchants (id),
  event_id      text not null check (length(event_id) between 1 and 255),
  event_type    text,
  raw_body      bytea not null,
  headers       jsonb not null,
  status        text not null default 'received'
                  check (status in ('received', 'processed', 'ignored', 'failed')),
  payment_id    text,
  error         text,
  received_at   timestamptz not null default now(),
  processed_at  timestamptz,
  constraint inbound_events_source_event_key unique (source_id, event_id)
);
create index inbound_events_merchant_idx on gw.inbound_events (merchant_id, id);
