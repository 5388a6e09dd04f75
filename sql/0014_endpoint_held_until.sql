-- Holding a slow endpoint's new messages.
--
-- A worker that turns attempts away because an endpoint is slow or hanging (its attempts
-- in flight have run too long, src/outbound/endpoint-slots.ts) puts them off a few seconds
-- and records until when here. Until then, an event emitted to the endpoint queues its
-- message in the endpoint's put-off job for that time (as it does while the circuit is
-- open), instead of a first-attempt job that a worker would load only to put it off: a
-- hanging endpoint costs one job every few seconds, not one per event.
alter table gw.endpoints add column held_until timestamptz;
