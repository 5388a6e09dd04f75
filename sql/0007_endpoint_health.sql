-- Delivery health per endpoint: the circuit breaker, failure-based disabling, flow control.
alter table gw.endpoints
  -- deliveries to this endpoint in flight at once per worker process (src/outbound/endpoint-slots.ts)
  add column max_in_flight         integer not null default 8 check (max_in_flight between 1 and 64),
  add column consecutive_failures  integer not null default 0 check (consecutive_failures >= 0),
  -- the first failed attempt since the last success; null while healthy
  add column failing_since         timestamptz,
  -- no attempts until then (one probe attempt claims the next window)
  add column circuit_open_until    timestamptz,
  add column disabled_reason       text;

-- Per-second delivery counts of rate-limited endpoints (rate_limit_per_second).
create table gw.endpoint_rate_windows (
  endpoint_id   text primary key references gw.endpoints (id),
  window_start  timestamptz not null,
  deliveries    integer not null
);
