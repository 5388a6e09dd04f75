// (test) A static check of migration files for DDL that would stall a live Switchyard: a lock held while a large
// table is scanned or rewritten, or a lock waited for without a bound. README.md "Upgrading" says why each matters.
import { splitStatements, stripComments } from '../../src/app/db/sql-statements.js';
import { NO_TRANSACTION_MARKER } from '../../src/app/db/migrate.js';

/** What a finding is about. */
export type Rule =
  /** CREATE INDEX (or an ADD CONSTRAINT that builds one) on a table an earlier file made: blocks writes while it builds. */
  | 'index-not-concurrent'
  /** CREATE/DROP INDEX CONCURRENTLY in a file without the no-transaction marker: PostgreSQL refuses it in a transaction. */
  | 'concurrently-in-transaction'
  /** ALTER COLUMN … TYPE: rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock. */
  | 'column-type-change'
  /** ADD COLUMN with a volatile default (clock_timestamp(), random(), gen_random_uuid(), nextval(), serial): rewrites the table. */
  | 'volatile-default'
  /** ADD CONSTRAINT CHECK / FOREIGN KEY without NOT VALID, or SET NOT NULL, on an earlier table: scans it under lock. */
  | 'validating-constraint'
  /** VACUUM FULL, CLUSTER, SET TABLESPACE, SET LOGGED/UNLOGGED: rewrites the table under an ACCESS EXCLUSIVE lock. */
  | 'table-rewrite'
  /** lock_timeout set to 0 or reset: the migrator's bound is lifted and DDL may queue every query behind it. */
  | 'lock-timeout'
  /**
   * LOCK TABLE in SHARE mode or stronger on an earlier table: writers wait until the migration's transaction commits,
   * i.e. for whatever the file does next (a copy of the table's rows, say). Copy in batches outside a transaction.
   */
  | 'blocking-lock';

/** One dangerous statement: the file, the rule, and the statement (comments removed, spaces collapsed). */
export interface Finding {
  file: string;
  rule: Rule;
  statement: string;
}

// Lock modes that let writers (ROW EXCLUSIVE) go on; LOCK TABLE without a mode is ACCESS EXCLUSIVE.
const WRITER_FRIENDLY_LOCKS = new Set(['access share', 'row share', 'row exclusive', 'share update exclusive']);
const VOLATILE_DEFAULT = /\bdefault\s+(clock_timestamp|random|gen_random_uuid|uuid_generate_v[14]|nextval|timeofday)\s*\(/;
const SERIAL_TYPE = /\badd\s+column\s+(if\s+not\s+exists\s+)?\S+\s+(small|big)?serial\b/;

/** The tables (`schema.name` as written, lower case) a file creates. */
function createdTables(statements: string[]): Set<string> {
  const out = new Set<string>();
  for (const s of statements) {
    const m = /^create\s+(unlogged\s+)?table\s+(if\s+not\s+exists\s+)?([\w."]+)/.exec(s);
    if (m) out.add(m[3]!.replaceAll('"', ''));
  }
  return out;
}

/**
 * Findings for `files` (name and text, in the order they apply). A table created in the same file is empty, so
 * what would be dangerous on a large table is allowed on it.
 */
export function checkMigrations(files: readonly { name: string; text: string }[]): Finding[] {
  const findings: Finding[] = [];
  for (const { name, text } of files) {
    const noTransaction = text.startsWith(NO_TRANSACTION_MARKER);
    const statements = splitStatements(text).map((s) => stripComments(s).replace(/\s+/g, ' ').trim().toLowerCase());
    const fresh = createdTables(statements);
    const existing = (table: string) => !fresh.has(table.replaceAll('"', ''));
    const add = (rule: Rule, statement: string) => findings.push({ file: name, rule, statement });
    for (const s of statements) {
      const index = /^create\s+(unique\s+)?index\s+(concurrently\s+)?(if\s+not\s+exists\s+)?([\w"]+\s+)?on\s+(only\s+)?([\w."]+)/.exec(s);
      if (index) {
        if (index[2] && !noTransaction) add('concurrently-in-transaction', s);
        if (!index[2] && existing(index[6]!)) add('index-not-concurrent', s);
      }
      if (/^drop\s+index\s+concurrently\b/.test(s) && !noTransaction) add('concurrently-in-transaction', s);
      if (/^(vacuum\s+(\(\s*)?full|cluster)\b/.test(s)) add('table-rewrite', s);
      if (/^(set\s+(local\s+)?lock_timeout\s*(=|to)\s*'?0+\s*(ms|s)?'?$|reset\s+lock_timeout$|reset\s+all$)/.test(s))
        add('lock-timeout', s);
      const lock = /^lock\s+(table\s+)?(only\s+)?([\w."]+(\s*,\s*[\w."]+)*)(\s+in\s+(.+?)\s+mode)?(\s+nowait)?$/.exec(s);
      if (lock && !noTransaction && lock[3]!.split(/\s*,\s*/).some(existing) && !WRITER_FRIENDLY_LOCKS.has(lock[6] ?? 'access exclusive'))
        add('blocking-lock', s);
      const alter = /^alter\s+table\s+(if\s+exists\s+)?(only\s+)?([\w."]+)\s/.exec(s);
      if (!alter || !existing(alter[3]!)) continue;
      if (/\balter\s+(column\s+)?\S+\s+(set\s+data\s+)?type\b/.test(s)) add('column-type-change', s);
      if (/\badd\s+column\b/.test(s) && (VOLATILE_DEFAULT.test(s) || SERIAL_TYPE.test(s))) add('volatile-default', s);
      const validating = /\badd\s+(constraint\s+\S+\s+)?(check|foreign\s+key)\b/.test(s) && !/\bnot\s+valid\b/.test(s);
      if (validating || /\balter\s+(column\s+)?\S+\s+set\s+not\s+null\b/.test(s)) add('validating-constraint', s);
      if (/\badd\s+(constraint\s+\S+\s+)?(unique|primary\s+key)\b/.test(s) && !/\busing\s+index\b/.test(s)) add('index-not-concurrent', s);
      if (/\bset\s+(tablespace|logged|unlogged)\b/.test(s)) add('table-rewrite', s);
    }
  }
  return findings;
}
