-- Bulk replays (POST /v1/replays): one more attempt of every message of a merchant (or of one
-- endpoint) created in [since, until) whose status, last response and event type match. A
-- replay runs as a chain of `replay_messages` jobs, one page of messages each, in message id
-- order: each page locks the row, queues its messages' attempts, moves `cursor` past them and
-- queues the next page, all in one transaction, so a crash re-runs at most the page it was on
-- (a job whose `page` is not `pages_done` finds its page done and does nothing).
create table gw.replays (
  id                text primary key check (id like 'rpl\_%'),
  merchant_id       text not null references gw.merchants (id),
  endpoint_id       text references gw.endpoints (id),
  since             timestamptz not null,
  until             timestamptz not null,
  statuses          text[] not null
    check (cardinality(statuses) > 0 and statuses <@ array['failed', 'pending']),
  response_classes  text[] check (cardinality(response_classes) > 0 and response_classes <@ array['4xx', '5xx', 'none']),
  event_types       text[] check (cardinality(event_types) > 0),
  page_size         integer not null default 200 check (page_size between 1 and 1000),
  status            text not null default 'running' check (status in ('running', 'completed', 'cancelled')),
  -- messages that matched when the replay was made; set to `done` when it completes
  total             integer not null check (total >= 0),
  -- messages looked at so far: `queued` got an attempt, `skipped` had one due or in flight
  done              integer not null default 0 check (done >= 0),
  queued            integer not null default 0 check (queued >= 0),
  skipped           integer not null default 0 check (skipped >= 0),
  pages_done        integer not null default 0 check (pages_done >= 0),
  cursor            text,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  finished_at       timestamptz,
  check (since < until),
  check (done = queued + skipped),
  check ((status = 'running') = (finished_at is null))
);
create index replays_merchant_idx on gw.replays (merchant_id, id);
