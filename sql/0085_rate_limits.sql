-- Rate limits shared by every process (README "Rate limits"): one GCRA state per key.
--
-- GCRA (the generic cell rate algorithm, as in ATM's and redis-cell's limiters) keeps one
-- timestamp per key, the theoretical arrival time `tat`: a request at `now` is allowed when
-- greatest(tat, now) + interval - now <= interval * burst, and then moves tat by one interval.
-- A row whose tat has passed is the same as no row, so rows are pruned freely. Unlogged: a
-- crash forgets the limits (everyone starts with a full burst), and no WAL is written per request.
-- Keys: `api:<sha256 of the bearer token>`, `inbound:<source id>:<client address>`.
create unlogged table gw.rate_limits (
  key  text primary key check (length(key) <= 300),
  tat  timestamptz not null
);

-- Takes one unit for `p_key` at `p_now` (the caller's clock), `p_interval_ms` apart on average
-- with a burst of `p_burst`. Returns whether it was allowed, the units left now, the ms until
-- the burst is whole again, and (when refused) the ms until one unit is allowed.
create function gw.rate_limit_take(p_key text, p_now timestamptz, p_interval_ms double precision, p_burst integer)
returns table (allowed boolean, remaining integer, reset_ms bigint, retry_after_ms bigint)
language plpgsql as $$
declare
  step      interval := make_interval(secs => p_interval_ms / 1000);
  tolerance interval := step * p_burst;
  new_tat   timestamptz;
  old_tat   timestamptz;
begin
  if p_burst < 1 or p_interval_ms <= 0 then
    raise exception 'rate_limit_take: burst must be >= 1 and interval > 0' using errcode = '22023';
  end if;
  insert into gw.rate_limits as r (key, tat) values (p_key, p_now + step)
  on conflict (key) do update set tat = greatest(r.tat, p_now) + step
    where greatest(r.tat, p_now) + step - p_now <= tolerance
  returning r.tat into new_tat;
  if found then
    allowed := true;
    remaining := floor(extract(epoch from tolerance - (new_tat - p_now)) * 1000 / p_interval_ms + 1e-9);
    reset_ms := ceil(extract(epoch from new_tat - p_now) * 1000);
    retry_after_ms := 0;
  else
    select r.tat into old_tat from gw.rate_limits r where r.key = p_key;
    allowed := false;
    remaining := 0;
    reset_ms := ceil(extract(epoch from old_tat - p_now) * 1000);
    retry_after_ms := greatest(1, ceil(extract(epoch from old_tat + step - tolerance - p_now) * 1000));
  end if;
  -- Now and then, forget the keys whose burst is whole again (bounded by the keys seen since).
  if random() < 0.001 then
    delete from gw.rate_limits where tat < p_now;
  end if;
  return next;
end
$$;
