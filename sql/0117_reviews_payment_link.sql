-- A review opened at POST /v1/payments names its create operation first and its payment once the payment row is stored
-- (issue #18): the trigger lets `payment_id` be filled once, with the payment that operation made, whatever the review's
-- status; and a rejection whose compensation the PSP refused past its retries is recorded (compensation_failed_at).
alter table gw.reviews add column compensation_failed_at timestamptz;

create or replace function gw.review_decided_once() returns trigger
language plpgsql as $$
begin
  if old.payment_id is null and new.payment_id is not null and old.operation_id is not null
     and (new.payment_id, new.operation_id) = (select o.payment_id, o.id from gw.psp_operations o where o.id = old.operation_id)
     and (new.id, new.merchant_id, new.decision_id, new.opened_by, new.opened_at, new.status)
         = (old.id, old.merchant_id, old.decision_id, old.opened_by, old.opened_at, old.status)
     and new.reason is not distinct from old.reason and new.compensation is not distinct from old.compensation
     and new.compensation_operation_id is not distinct from old.compensation_operation_id
     and new.closed_at is not distinct from old.closed_at
     and new.compensation_failed_at is not distinct from old.compensation_failed_at then
    return new;
  end if;
  if old.status = 'rejected' and old.compensation_failed_at is null and new.compensation_failed_at is not null
     and (new.id, new.merchant_id, new.decision_id, new.opened_by, new.opened_at, new.status, new.compensation)
         = (old.id, old.merchant_id, old.decision_id, old.opened_by, old.opened_at, old.status, old.compensation)
     and new.payment_id is not distinct from old.payment_id and new.operation_id is not distinct from old.operation_id
     and new.reason is not distinct from old.reason
     and new.compensation_operation_id is not distinct from old.compensation_operation_id
     and new.closed_at is not distinct from old.closed_at then
    return new;
  end if;
  if old.status <> 'open' then
    raise exception 'review % is already %', old.id, old.status using errcode = '23514';
  end if;
  if new.id <> old.id or new.merchant_id <> old.merchant_id or new.payment_id is distinct from old.payment_id
     or new.operation_id is distinct from old.operation_id or new.decision_id <> old.decision_id
     or new.opened_by <> old.opened_by or new.opened_at <> old.opened_at
     or new.compensation_failed_at is distinct from old.compensation_failed_at then
    raise exception 'only the status, reason, compensation and closed_at of review % may change', old.id using errcode = '23514';
  end if;
  return new;
end $$;

-- the reviews opened before: their operation's payment, when it is stored
update gw.reviews r
   set payment_id = o.payment_id
  from gw.psp_operations o
 where r.payment_id is null and r.operation_id = o.id and o.payment_id is not null;
