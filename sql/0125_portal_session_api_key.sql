-- Issue #20 follow-up: a portal session ends with the API key that opened it (README "The portal").
-- `api_key_id` is the key a login used, or the key that made the portal link a session came from; every request
-- of the session checks that key is neither revoked nor expired. Null: a session or link made before this file
-- (it lasts until its own expiry, 12 h at most for a login).
alter table gw.portal_sessions
  add column api_key_id text;
alter table gw.portal_sessions
  add constraint portal_sessions_api_key_fk foreign key (api_key_id) references gw.api_keys (id) not valid;
alter table gw.portal_sessions
  validate constraint portal_sessions_api_key_fk;
