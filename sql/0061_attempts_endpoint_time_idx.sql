-- switchyard:no-transaction
-- Attempts of an endpoint in a time window: read by per-endpoint delivery stats
-- (GET /v1/endpoints/{id}/stats) and by the portal's overview chart and endpoint health. Built
-- concurrently (gw.attempts is large); a half-built index of an earlier failed run is dropped first.
drop index concurrently if exists gw.attempts_endpoint_time_idx;
create index concurrently attempts_endpoint_time_idx on gw.attempts (endpoint_id, attempted_at);
