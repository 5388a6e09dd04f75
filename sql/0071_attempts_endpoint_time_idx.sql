-- switchyard:no-transaction
-- The portal's overview chart and endpoint health read attempts by endpoint and time. Built
-- concurrently (gw.attempts is large); a half-built index of an earlier failed run is dropped first.
drop index concurrently if exists gw.attempts_endpoint_time_idx;
create index concurrently attempts_endpoint_time_idx on gw.attempts (endpoint_id, attempted_at);
