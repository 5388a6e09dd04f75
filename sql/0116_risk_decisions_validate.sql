-- The constraints 0115 added NOT VALID, checked over the existing decisions: VALIDATE takes a SHARE UPDATE EXCLUSIVE
-- lock, so decisions keep being written while it scans.
alter table gw.risk_decisions validate constraint risk_decisions_rule_set_fk;
alter table gw.risk_decisions validate constraint risk_decisions_names_rules;
