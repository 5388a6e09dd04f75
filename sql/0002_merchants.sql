create table gw.merchants (
  id          text primary key check (id like 'mch\_%'),
  name        text not null check (length(name) between 1 and 200),
  created_at  timestamptz not null default now()
);

-- API keys are stored only as SHA-256 hashes; `prefix` (the first characters) helps a
-- person recognise a key without revealing it.
create table gw.api_keys (
  id            text primary key,
  merchant_id   text not null references gw.merchants (id),
  key_hash      text not null unique check (key_hash ~ '^[0-9a-f]{64}$'),
  prefix        text not null,
  created_at    timestamptz not null default now(),
  revoked_at    timestamptz
);
create index api_keys_merchant_idx on gw.api_keys (merchant_id);
