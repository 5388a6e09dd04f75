-- The review queue (issue #18 item 5): a `review` decision opens a review; a reviewer approves or rejects it once.

create table gw.reviews (
  id           text primary key check (id like 'rev\_%'),
  merchant_id  text not null references gw.merchants (id),
  -- the payment, or the create operation of a payment made through POST /v1/payments whose row came later
  payment_id   text references gw.payments (id),
  operation_id text,
  decision_id  bigint not null references gw.risk_decisions (id),
  -- the rule that opened it: {id, name, version, action}
  opened_by    jsonb not null,
  status       text not null default 'open' check (status in ('open', 'approved', 'rejected')),
  reason       text check (length(reason) <= 500),
  -- what a rejection did to the payment: refund or void through the PSP (operation_id of that call in
  -- compensation_operation_id), nothing (it was neither captured nor authorized), or refund_required (the source has
  -- no PSP apiKey: a person must refund it at the PSP)
  compensation text check (compensation in ('refund', 'void', 'none', 'refund_required')),
  compensation_operation_id text,
  opened_at    timestamptz not null,
  closed_at    timestamptz,
  constraint reviews_names_payment check (payment_id is not null or operation_id is not null),
  constraint reviews_closed check ((status = 'open') = (closed_at is null)),
  constraint reviews_reason_on_reject check (status <> 'rejected' or reason is not null),
  constraint reviews_compensation_on_reject check ((status = 'rejected') = (compensation is not null))
);
create index reviews_merchant_idx on gw.reviews (merchant_id, status, id);
create index reviews_payment_idx on gw.reviews (payment_id) where payment_id is not null;
create index reviews_operation_idx on gw.reviews (operation_id) where operation_id is not null;
create index reviews_refund_required_idx on gw.reviews (merchant_id, id) where compensation = 'refund_required';
create unique index reviews_one_per_decision on gw.reviews (decision_id);

-- A review is decided once: open → approved | rejected, nothing else changes, nothing is deleted.
create function gw.review_decided_once() returns trigger
language plpgsql as $$
begin
  if old.status <> 'open' then
    raise exception 'review % is already %', old.id, old.status using errcode = '23514';
  end if;
  if new.id <> old.id or new.merchant_id <> old.merchant_id or new.payment_id is distinct from old.payment_id
     or new.operation_id is distinct from old.operation_id or new.decision_id <> old.decision_id
     or new.opened_by <> old.opened_by or new.opened_at <> old.opened_at then
    raise exception 'only the status, reason, compensation and closed_at of review % may change', old.id using errcode = '23514';
  end if;
  return new;
end $$;
create trigger reviews_decided_once
  before update on gw.reviews
  for each row execute function gw.review_decided_once();
create trigger reviews_no_delete
  before delete on gw.reviews
  for each row execute function gw.refuse_change();
