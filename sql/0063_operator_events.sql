-- Operational webhooks: events for the operator (SWITCHYARD_OPERATOR_WEBHOOK_URL) about every
-- merchant's endpoints, ledger and sources, each delivered by its own `deliver_operator_event`
-- job, signed as merchant deliveries are (Standard Webhooks, the operator's secret). Written
-- only when the URL is set; `dedupe_key` keeps one alert per fact (a source failing in a
-- window, a ledger imbalance per merchant and hour).
create table gw.operator_events (
  id            text primary key check (id like 'oev\_%'),
  type          text not null,
  merchant_id   text references gw.merchants (id),
  dedupe_key    text not null,
  payload       bytea not null,
  status        text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts      integer not null default 0 check (attempts >= 0),
  last_error    text,
  created_at    timestamptz not null default now(),
  delivered_at  timestamptz,
  constraint operator_events_dedupe_key unique (dedupe_key)
);
