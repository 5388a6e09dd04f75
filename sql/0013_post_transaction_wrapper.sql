-- One implementation of posting: gw.post_transaction (0005) becomes a thin wrapper over
-- gw.post_transactions (0009), which posts any number of transactions of one merchant with
-- the same steps (accounts created on first use, locked once in id order, entries inserted,
-- balances moved). Same signature and answer: the new transaction's id, or null when this
-- (payment, cause, kind) was already posted. Kept for operators and tests that post by hand.
create or replace function gw.post_transaction(
  p_merchant_id text, p_payment_id text, p_cause text, p_kind text, p_entries jsonb
) returns text
language sql as $$
  select (gw.post_transactions(
            p_merchant_id,
            jsonb_build_array(jsonb_build_object(
              'paymentId', p_payment_id, 'cause', p_cause, 'kind', p_kind, 'entries', p_entries))))[1]
$$;
