-- switchyard:no-transaction
-- An account's ledger entries in id order: what the continuous ledger check (sql/0041) scans from
-- its checkpoint. Built concurrently (gw.ledger_entries is large); it covers what
-- ledger_entries_account_idx (account_id) served, which is then dropped. A half-built index of an
-- earlier failed run is dropped first.
drop index concurrently if exists gw.ledger_entries_account_entry_idx;
create index concurrently ledger_entries_account_entry_idx on gw.ledger_entries (account_id, id);
drop index concurrently if exists gw.ledger_entries_account_idx;
