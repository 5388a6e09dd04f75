-- Per-endpoint delivery stats (GET /v1/endpoints/{id}/stats) read an endpoint's attempts in a
-- time window. Not unique, so on a partitioned gw.attempts it is one index per partition.
create index attempts_endpoint_time_idx on gw.attempts (endpoint_id, attempted_at);
