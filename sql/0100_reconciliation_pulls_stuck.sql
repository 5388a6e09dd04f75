-- Reconciliation, second part (issue #17 items 2 and 8, README "Reconcile"): reports pulled from the
-- PSP, a source's reconciliation settings, and payments left pending.

-- Adyen report user credentials (`{"username", "password"}` as JSON, sealed by the SecretBox like
-- api_key_ciphertext; never returned), used to download settlement details reports; and how long a
-- payment may stay `pending` before it is a stuck payment (the source's settling time, seconds).
alter table gw.sources
  add column report_credentials_ciphertext text,
  add column stuck_after_seconds integer not null default 3600;
alter table gw.sources
  add constraint sources_stuck_after_seconds_check check (stuck_after_seconds between 60 and 2592000) not valid;
alter table gw.sources validate constraint sources_stuck_after_seconds_check;

-- A payment found `pending` longer than its source's settling time: listed once, asked of the PSP
-- when the source can be asked (Stripe with an apiKey), resolved when it leaves `pending`.
create table gw.stuck_payments (
  payment_id     text primary key references gw.payments (id),
  merchant_id    text not null references gw.merchants (id),
  source_id      text not null references gw.sources (id),
  pending_since  timestamptz not null,
  detected_at    timestamptz not null,
  -- the last time the PSP was asked, and what it said
  checked_at     timestamptz,
  psp_status     text,
  -- why it was or was not asked, or what asking did, for the merchant
  detail         text not null,
  resolved_at    timestamptz,
  resolved_status text
);
create index stuck_payments_merchant_idx on gw.stuck_payments (merchant_id, detected_at desc, payment_id);
create index stuck_payments_open_idx on gw.stuck_payments (source_id) where resolved_at is null;
