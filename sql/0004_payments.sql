-- Payments as the PSP reports them. Amounts are integer minor units (ISO 4217 exponent).
create table gw.payments (
  id                  text primary key check (id like 'pay\_%'),
  merchant_id         text not null references gw.merchants (id),
  source_id           text not null references gw.sources (id),
  psp_reference       text not null,
  status              text not null check (status in (
                        'pending', 'authorized', 'captured', 'partially_refunded', 'refunded',
                        'failed', 'voided', 'disputed', 'charged_back')),
  amount              bigint not null check (amount >= 0),
  currency            text not null check (currency ~ '^[A-Z]{3}$'),
  captured_amount     bigint not null default 0 check (captured_amount >= 0),
  refunded_amount     bigint not null default 0 check (refunded_amount >= 0),
  merchant_reference  text,
  version             integer not null default 0,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  constraint payments_source_psp_reference_key unique (source_id, psp_reference),
  constraint payments_refund_within_capture check (refunded_amount <= captured_amount)
);
create index payments_merchant_idx on gw.payments (merchant_id, id);

-- The audit trail: one row per move of a payment, never updated or deleted.
create table gw.payment_transitions (
  id           bigint generated always as identity primary key,
  payment_id   text not null references gw.payments (id),
  from_status  text,
  to_status    text not null,
  cause        text not null,
  at           timestamptz not null default now()
);
create index payment_transitions_payment_idx on gw.payment_transitions (payment_id, id);

create trigger payment_transitions_append_only
  before update or delete on gw.payment_transitions
  for each row execute function gw.refuse_change();
create trigger payment_transitions_no_truncate
  before truncate on gw.payment_transitions
  for each statement execute function gw.refuse_change();
