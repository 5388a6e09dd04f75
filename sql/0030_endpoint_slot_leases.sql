-- One delivery cap per endpoint, shared by every worker process.
--
-- An endpoint's max_in_flight bounds its deliveries in flight across all processes. Each
-- worker process leases a share of it (`slots`) and renews the lease in the background
-- (src/outbound/slot-leases.ts); attempts then take slots from the process's share without a
-- round trip. A lease changes only under the endpoint's advisory lock, through
-- gw.lease_endpoint_slots, so the unexpired leases of an endpoint never add up to more than
-- its max_in_flight. A process that dies stops renewing: its lease expires and its share is
-- free again. `wanted` is the process's demand: a process holding more than its fair share
-- while another wants more gives back the difference as its attempts end.
create table gw.endpoint_slot_leases (
  endpoint_id text        not null references gw.endpoints (id),
  -- one worker process (random per process start)
  holder      text        not null,
  slots       integer     not null check (slots between 0 and 64),
  wanted      integer     not null check (wanted between 0 and 64),
  expires_at  timestamptz not null,
  primary key (endpoint_id, holder)
);

-- Sets `p_holder`'s lease of each endpoint in `p_endpoint_ids` (in_use: its attempts in
-- flight; wanted: the slots it could use, both per endpoint) and answers, per endpoint, how
-- many slots it may use (`usable`) and for how long, ms (`valid_ms`). Per endpoint, under
-- the endpoint's transaction-scoped advisory lock (taken in id order, so two callers cannot
-- deadlock): usable = wanted, at most what the other unexpired leases leave of max_in_flight
-- (0 unless the endpoint is enabled), and at most a fair share (max_in_flight over the
-- holders that want slots, rounded up) while another holder wants more than it holds. The
-- lease keeps `greatest(in_use, usable)` slots: attempts in flight are never given away, so
-- a holder shrinks as they end. A holder that neither uses nor wants slots loses its row.
-- The row is rewritten only when it changes or half its time to live has passed.
create function gw.lease_endpoint_slots(
  p_holder       text,
  p_endpoint_ids text[],
  p_in_use       integer[],
  p_wanted       integer[],
  p_ttl_ms       integer
) returns table (endpoint_id text, usable integer, valid_ms integer)
language plpgsql volatile as $$
#variable_conflict use_column
declare
  i          integer;
  e          text;
  cap        integer;
  others     integer;
  starving   boolean;
  holders    integer;
  target     integer;
  kept       integer;
  expires    timestamptz;
  ttl        interval := make_interval(secs => p_ttl_ms / 1000.0);
begin
  for i in select t.ord from unnest(p_endpoint_ids) with ordinality as t(id, ord) order by t.id loop
    e := p_endpoint_ids[i];
    -- 0x5359 ('SY'): our namespace of two-key advisory locks
    perform pg_advisory_xact_lock(21337, hashtext(e));
    select case when ep.status = 'enabled' then ep.max_in_flight else 0 end into cap
      from gw.endpoints ep where ep.id = e;
    cap := coalesce(cap, 0);
    select coalesce(sum(l.slots), 0), coalesce(bool_or(l.wanted > l.slots), false), count(*) filter (where l.wanted > 0)
      into others, starving, holders
      from gw.endpoint_slot_leases l
     where l.endpoint_id = e and l.holder <> p_holder and l.expires_at > now();
    if p_wanted[i] > 0 then holders := holders + 1; end if;
    target := greatest(0, least(p_wanted[i], cap - others));
    if starving then target := least(target, ceil(cap::numeric / greatest(holders, 1))::integer); end if;
    kept := greatest(p_in_use[i], target);
    delete from gw.endpoint_slot_leases l where l.endpoint_id = e and l.expires_at <= now();
    if kept = 0 and p_wanted[i] = 0 then
      delete from gw.endpoint_slot_leases l where l.endpoint_id = e and l.holder = p_holder;
      expires := now() + ttl;
    else
      insert into gw.endpoint_slot_leases as l (endpoint_id, holder, slots, wanted, expires_at)
      values (e, p_holder, kept, p_wanted[i], now() + ttl)
      on conflict on constraint endpoint_slot_leases_pkey do update
        set slots = excluded.slots, wanted = excluded.wanted, expires_at = excluded.expires_at
        where l.slots <> excluded.slots or l.wanted <> excluded.wanted or l.expires_at < now() + ttl / 2;
      select l.expires_at into expires from gw.endpoint_slot_leases l where l.endpoint_id = e and l.holder = p_holder;
    end if;
    endpoint_id := e;
    usable := target;
    valid_ms := greatest(0, floor(extract(epoch from expires - now()) * 1000))::integer;
    return next;
  end loop;
end $$;
