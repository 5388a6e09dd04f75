-- Issue #17: sql/0135's rule "an entry's ledger transaction was created by the same database transaction" is checked
-- per statement by joining the statement's entries to their transactions. gw.post_legs (sql/0137) inserts entries only
-- for the transactions its own statement has just created, so the rule holds there by construction; that statement
-- carries gw.post_legs' transaction-local mark, and the join is skipped for it (the same mark, and the same trust in
-- it, as the deferred checks' WHEN clauses of sql/0135 and sql/0136). Entries inserted any other way are still checked.
drop trigger ledger_entries_same_database_transaction on gw.ledger_entries;
create trigger ledger_entries_same_database_transaction
  after insert on gw.ledger_entries
  referencing new table as new_entries
  for each statement
  when (current_setting('gw.entries_checked_by_transaction', true) is distinct from 'on')
  execute function gw.refuse_entries_of_earlier_transactions();
