-- The merchant portal (/portal, README "The portal"): sessions and portal links, failed logins.

-- A portal link (`link`, one-time: `used_at` set when exchanged) or a browser session (`session`, ended
-- by logout or expiry). Only the SHA-256 hex of the token is stored; the token itself is in the
-- link's URL or the session cookie.
create table gw.portal_sessions (
  token_hash    text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
  kind          text not null check (kind in ('link', 'session')),
  merchant_id   text not null references gw.merchants (id),
  capabilities  text[] not null
                  check (cardinality(capabilities) >= 1
                     and capabilities <@ array['read', 'manage_endpoints', 'replay', 'reviews']),
  created_at    timestamptz not null default now(),
  expires_at    timestamptz not null,
  used_at       timestamptz,
  ended_at      timestamptz,
  check (expires_at > created_at),
  check (kind = 'link' or used_at is null),
  check (kind = 'session' or ended_at is null)
);
create index portal_sessions_expires_idx on gw.portal_sessions (expires_at);

-- Failed portal logins by client address, for the per-address limit (10 a minute); no key is kept.
create table gw.portal_login_failures (
  id              bigint generated always as identity primary key,
  client_address  text not null check (length(client_address) <= 100),
  at              timestamptz not null default now()
);
create index portal_login_failures_address_idx on gw.portal_login_failures (client_address, at);

-- The overview's chart and endpoint health read attempts by endpoint and time through
-- attempts_endpoint_time_idx (sql/0061).
