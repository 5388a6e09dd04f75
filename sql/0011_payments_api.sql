-- Merchant payments API (issue #5): idempotency keys, PSP operations, PSP credentials on sources.

-- Idempotency keys, after Stripe's published Postgres design (Brandur Leach, "Implementing
-- Stripe-like Idempotency Keys in Postgres"): one row per (merchant, key) holding the request
-- fingerprint, the recovery point reached so far, the lock of the request working on it, and
-- the stored response once finished. Kept 24 h (expires_at), purged by a cron task.
create table gw.idempotency_keys (
  id                  bigint generated always as identity primary key,
  merchant_id         text not null references gw.merchants (id),
  idempotency_key     text not null check (length(idempotency_key) between 1 and 255),
  request_method      text not null,
  request_path        text not null,
  -- sha256 hex of method, path and the canonical (sorted-keys) JSON body
  request_fingerprint text not null check (request_fingerprint ~ '^[0-9a-f]{64}$'),
  request_params      jsonb not null,
  status              text not null default 'in_progress' check (status in ('in_progress', 'finished')),
  recovery_point      text not null default 'started',
  -- the request working on the key took it at locked_at; null = nobody (finished, or released after an error)
  locked_at           timestamptz,
  operation_id        text,
  response_status     integer check (response_status between 100 and 599),
  response_body       text,
  created_at          timestamptz not null,
  expires_at          timestamptz not null,
  constraint idempotency_keys_merchant_key unique (merchant_id, idempotency_key),
  constraint idempotency_keys_finished_has_response
    check ((status = 'finished') = (response_status is not null and response_body is not null)),
  constraint idempotency_keys_expiry check (expires_at > created_at)
);
create index idempotency_keys_expires_idx on gw.idempotency_keys (expires_at);

-- Calls to a PSP made for a merchant's command: one row per operation, with the idempotency
-- key sent to the PSP (derived from the merchant's key), so a re-run sends the same key.
create table gw.psp_operations (
  id                  text primary key check (id like 'pop\_%'),
  merchant_id         text not null references gw.merchants (id),
  source_id           text not null references gw.sources (id),
  payment_id          text references gw.payments (id),
  kind                text not null check (kind in ('create', 'capture', 'void', 'refund')),
  amount              bigint check (amount is null or amount >= 0),
  currency            text not null check (currency ~ '^[A-Z]{3}$'),
  psp_idempotency_key text not null,
  request             jsonb not null,
  -- requested: not answered yet; pending: timeout or 5xx, outcome unknown (the sync task asks);
  -- submitted: accepted, outcome comes by webhook (Adyen modifications); succeeded; failed
  status              text not null default 'requested'
                        check (status in ('requested', 'pending', 'submitted', 'succeeded', 'failed')),
  psp_reference       text,
  operation_reference text,
  failure_code        text,
  failure_message     text,
  sync_attempts       integer not null default 0,
  created_at          timestamptz not null,
  updated_at          timestamptz not null,
  constraint psp_operations_psp_key unique (source_id, psp_idempotency_key)
);
create index psp_operations_payment_idx on gw.psp_operations (payment_id);
create index psp_operations_unsettled_idx on gw.psp_operations (updated_at) where status in ('requested', 'pending');
-- for the trigger below, which runs on every insert into gw.payments
create index psp_operations_source_reference_idx on gw.psp_operations (source_id, psp_reference) where psp_reference is not null;
create index psp_operations_awaiting_reference_idx on gw.psp_operations (source_id, currency, amount)
  where kind = 'create' and psp_reference is null and status in ('requested', 'pending');

-- PSP API credentials on a source (docs/http-api.md "Sources"): the API key encrypted under the
-- master key (src/core/secrets.ts), an optional API base URL override (sandbox, local
-- stand-in), and the PSP merchant account some PSPs need on every call (Adyen merchantAccount).
alter table gw.sources
  add column api_key_ciphertext text,
  add column api_base_url text check (api_base_url is null or api_base_url ~ '^https?://'),
  add column psp_merchant_account text check (psp_merchant_account is null or length(psp_merchant_account) between 1 and 255);

-- A payment created through the API whose PSP call timed out is stored with a provisional
-- psp_reference 'pending:<operation id>' until the status sync learns the PSP's reference.
-- Until then, a webhook for a payment this source has not seen could be that very payment:
-- creating a second row for it would count it twice, so such an insert is refused (the
-- processing job fails and graphile-worker retries it after the sync). Narrowed to the same
-- source, currency and amount, and to references no operation has claimed.
create function gw.payments_await_pending_reference() returns trigger
language plpgsql as $$
begin
  if new.psp_reference like 'pending:%' then
    return new;
  end if;
  if exists (select 1 from gw.psp_operations o
              where o.source_id = new.source_id and o.psp_reference = new.psp_reference) then
    return new;
  end if;
  if exists (select 1 from gw.psp_operations o
              where o.source_id = new.source_id
                and o.kind = 'create'
                and o.status in ('requested', 'pending')
                and o.psp_reference is null
                and o.currency = new.currency
                and o.amount = new.amount) then
    raise exception 'payment % on source % may be the one awaiting its PSP reference; retry after the status sync',
      new.psp_reference, new.source_id
      using errcode = '55000';
  end if;
  return new;
end $$;

create trigger payments_await_pending_reference
  before insert on gw.payments
  for each row execute function gw.payments_await_pending_reference();
