-- Custom headers and auth to receivers, per endpoint.
--
-- `headers`: what every attempt sends besides the signed ones, as a JSON array of
-- `{"name", "value"}` (in clear) or `{"name", "envelope"}` (a value marked secret, sealed
-- with the SecretBox of src/core/secrets.ts, never in clear). `auth`: null, or
-- `{"type": "basic", "username", "passwordEnvelope"}`, or `{"type":
-- "oauth2_client_credentials", "tokenUrl", "clientId", "clientSecretEnvelope", "scope"}`.
-- Delivery reads both with the endpoint row it already loads and decrypts them once per
-- `receiver_version`, which moves whenever either changes.
alter table gw.endpoints
  add column headers           jsonb not null default '[]'
    check (jsonb_typeof(headers) = 'array' and jsonb_array_length(headers) <= 20),
  add column auth              jsonb
    check (auth is null or auth ->> 'type' in ('basic', 'oauth2_client_credentials')),
  add column receiver_version  integer not null default 0 check (receiver_version >= 0);
