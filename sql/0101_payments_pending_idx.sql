-- switchyard:no-transaction
-- Pending payments by age: what the stuck-payments cron (sql/0100) reads every few minutes, without
-- scanning gw.payments. Built concurrently (gw.payments is large); a half-built index of an earlier
-- failed run is dropped first.
drop index concurrently if exists gw.payments_pending_created_idx;
create index concurrently payments_pending_created_idx on gw.payments (source_id, created_at) where status = 'pending';
