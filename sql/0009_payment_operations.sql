-- Payments as operations (issue #3). A payment holds operations (authorization, captures,
-- refunds, voids, disputes), each with its own PSP reference; its status and amounts derive
-- from them (src/core/payments/state-machine.ts) and are kept on gw.payments for O(1) reads.

-- What the operations and the PSPs' cumulative totals add up to, kept on the payment row.
alter table gw.payments
  -- the largest payment amount a PSP reported (0: none yet); `amount` is at least captured_amount
  add column reported_amount       bigint not null default 0 check (reported_amount >= 0),
  -- the largest cumulative totals a PSP has reported (Stripe amount_received / amount_captured,
  -- amount_refunded; Checkout.com balances; …): a floor under the sums of the operations
  add column reported_captured     bigint not null default 0 check (reported_captured >= 0),
  add column reported_refunded     bigint not null default 0 check (reported_refunded >= 0),
  -- lost disputes not reversed, at most captured - refunded
  add column charged_back_amount   bigint not null default 0 check (charged_back_amount >= 0),
  -- refunds the PSP reported beyond what was captured: recorded, flagged, never posted
  add column over_refunded_amount  bigint not null default 0 check (over_refunded_amount >= 0);
-- payments recorded before this migration: what they show is what was reported
update gw.payments
   set reported_amount = amount, reported_captured = captured_amount, reported_refunded = refunded_amount;

-- One row per (operation, outcome) as the PSP (or the merchant API) reported it, never updated
-- or deleted. An operation's current outcome is the highest-ranked outcome among its rows
-- (pending < succeeded < failed; open < won < lost < reversed for disputes), so the rows a
-- payment ends with do not depend on the order its events arrived in.
create table gw.payment_operations (
  id             bigint generated always as identity primary key,
  payment_id     text not null references gw.payments (id),
  kind           text not null check (kind in ('authorization', 'capture', 'refund', 'void', 'dispute')),
  -- the operation's own PSP reference: Stripe re_/dp_ id, Adyen modification pspReference, …
  psp_reference  text not null check (length(psp_reference) between 1 and 255),
  outcome        text not null check (outcome in (
                   'pending', 'succeeded', 'failed', 'open', 'won', 'lost', 'reversed')),
  -- minor units of the payment's currency; null when the PSP did not say
  amount         bigint check (amount >= 0),
  -- the inbound event (iev_…) or the API request that reported it
  cause          text not null,
  at             timestamptz not null default now(),
  constraint payment_operations_outcome_key unique (payment_id, kind, psp_reference, outcome),
  constraint payment_operations_dispute_outcomes check (
    (kind = 'dispute') = (outcome in ('open', 'won', 'lost', 'reversed')) or outcome = 'pending')
);
create index payment_operations_payment_idx on gw.payment_operations (payment_id, id);

create trigger payment_operations_append_only
  before update or delete on gw.payment_operations
  for each row execute function gw.refuse_change();
create trigger payment_operations_no_truncate
  before truncate on gw.payment_operations
  for each statement execute function gw.refuse_change();

-- Reversing transactions name what they reverse, so one event may reverse a capture and a
-- refund at once and still post at most one transaction per (payment, cause, kind).
alter table gw.ledger_transactions drop constraint ledger_transactions_kind_check;
alter table gw.ledger_transactions add constraint ledger_transactions_kind_check check (kind in (
  'capture', 'refund', 'dispute_loss', 'settlement', 'reversal',
  'capture_reversal', 'refund_reversal', 'dispute_loss_reversal'));

-- An event that arrived after its successors (or again) changes nothing: it is processed and
-- marked stale (src/inbound/process-event.task.ts).
alter table gw.inbound_events add column stale boolean not null default false;
-- the events still to process, per merchant, oldest first: what a task that processes several
-- at once picks up beside its own (processInboundEvent's batchSize)
create index inbound_events_received_idx on gw.inbound_events (merchant_id, id) where status = 'received';

-- Posts several ledger transactions of one merchant in one call, locking each account the
-- call touches once, in id order. p_transactions is a JSON array of
-- {"paymentId", "cause", "kind", "entries": [{"account", "direction", "amount", "currency"}]}.
-- Returns the ids of the transactions posted (those already posted for their (payment, cause,
-- kind) are skipped). Each transaction is checked balanced at commit by the deferred triggers
-- of sql/0005_ledger.sql.
create function gw.post_transactions(p_merchant_id text, p_transactions jsonb) returns text[]
language plpgsql as $$
declare
  v_ids text[];
begin
  insert into gw.ledger_accounts (merchant_id, code, currency)
  select distinct p_merchant_id, e->>'account', e->>'currency'
    from jsonb_array_elements(p_transactions) t, jsonb_array_elements(t->'entries') e
   order by 2, 3
  on conflict (merchant_id, code, currency) do nothing;

  perform 1
     from gw.ledger_accounts a
    where a.merchant_id = p_merchant_id
      and (a.code, a.currency) in (select e->>'account', e->>'currency'
                                     from jsonb_array_elements(p_transactions) t,
                                          jsonb_array_elements(t->'entries') e)
    order by a.id
      for update;

  -- one statement: the transactions that are new, their entries, and the balances they move
  with input as (
    select n, t
      from jsonb_array_elements(p_transactions) with ordinality as x(t, n)
  ), ins as (
    insert into gw.ledger_transactions (id, merchant_id, payment_id, cause, kind)
    select gw.new_id('ltx'), p_merchant_id, t->>'paymentId', t->>'cause', t->>'kind'
      from input
     order by n
    on conflict (payment_id, cause, kind) do nothing
    returning id, payment_id, cause, kind
  ), posted as (
    select i.n, ins.id, i.t
      from ins
      join input i
        on (i.t->>'paymentId') is not distinct from ins.payment_id
       and i.t->>'cause' = ins.cause and i.t->>'kind' = ins.kind
  ), lines as (
    select p.n, p.id, x.m, a.id as account_id, x.e->>'direction' as direction,
           (x.e->>'amount')::bigint as amount, x.e->>'currency' as currency
      from posted p
      cross join lateral jsonb_array_elements(p.t->'entries') with ordinality as x(e, m)
      join gw.ledger_accounts a
        on a.merchant_id = p_merchant_id and a.code = x.e->>'account' and a.currency = x.e->>'currency'
  ), entries as (
    insert into gw.ledger_entries (transaction_id, account_id, direction, amount, currency)
    select id, account_id, direction, amount, currency
      from lines
     order by n, m
  ), moved as (
    update gw.ledger_accounts a
       set balance = a.balance + d.delta
      from (select account_id,
                   sum(case direction when 'debit' then amount::numeric else -amount::numeric end) as delta
              from lines
             group by account_id) d
     where a.id = d.account_id
  )
  select coalesce(array_agg(id order by n), '{}') into v_ids from posted;
  return v_ids;
end
$$;
