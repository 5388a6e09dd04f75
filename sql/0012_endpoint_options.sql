-- Endpoint options.
--
-- Optional per-endpoint `v1a` signing (Standard Webhooks' asymmetric scheme, Ed25519):
-- the private key sealed under the master key (a SecretBox envelope of `whsk_<base64
-- PKCS #8>`, never in clear) and the public key merchants verify with (`whpk_<base64 raw
-- 32 bytes>`, not secret). Both null: HMAC `v1` signatures only.
alter table gw.endpoints
  add column ed25519_private_envelope text,
  add column ed25519_public_key       text check (ed25519_public_key like 'whpk\_%'),
  add constraint endpoints_ed25519_pair
    check ((ed25519_private_envelope is null) = (ed25519_public_key is null));

-- Optional ordered delivery per payment: on an `ordered` endpoint, an event of a payment is
-- not sent before the previous event of that payment to that endpoint has been delivered or
-- has failed for good. Messages to an ordered endpoint carry their event's payment (null
-- otherwise, so other endpoints pay no index cost); a message waits while an older message
-- of the same (endpoint, payment) is pending.
alter table gw.endpoints add column ordered boolean not null default false;
alter table gw.messages add column ordered_payment_id text;
create index messages_ordered_payment_idx on gw.messages (endpoint_id, ordered_payment_id, id)
  where ordered_payment_id is not null;
