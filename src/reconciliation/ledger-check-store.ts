// SQL of the continuous ledger check: kept balances against entries since each account's checkpoint.
import type { Tx } from '../core/db/client.js';

/** One account compared: its kept balance, and what its entries give (checkpoint + entries after it). */
export interface AccountProof {
  id: string;
  code: string;
  currency: string;
  /** gw.ledger_accounts.balance, minor units, debit-positive. */
  kept: string;
  /** The checkpoint's balance plus the entries after it (from zero on a full pass). */
  fromEntries: string;
  /** The last entry of the account, or the checkpoint's when none is newer. */
  lastEntryId: string;
  /** Entries summed. */
  entries: number;
}

/**
 * Locks the merchant's accounts FOR SHARE (in id order: a posting, which locks them FOR UPDATE, waits or is waited for,
 * so no posting of theirs is half seen) and proves each: from its checkpoint (`full`: from its first entry), one
 * indexed scan of gw.ledger_entries (account_id, id). Accounts created meanwhile are left for the next check.
 */
export async function proveAccounts(tx: Tx, merchantId: string, full: boolean): Promise<AccountProof[]> {
  const rows = await tx<
    { id: string; code: string; currency: string; kept: string; from_entries: string; last_entry_id: string; entries: number }[]
  >`
    with a as (
      select id, code, currency, balance from gw.ledger_accounts where merchant_id = ${merchantId} order by id for share
    ), d as (
      select a.id, a.code, a.currency, a.balance,
             case when ${full} then 0 else coalesce(cp.entry_id, 0) end as from_id,
             case when ${full} then 0 else coalesce(cp.balance, 0) end as from_balance
        from a
        left join gw.ledger_check_accounts cp on cp.account_id = a.id
    )
    select d.id, d.code, d.currency, d.balance as kept,
           d.from_balance + x.delta as from_entries,
           coalesce(x.hi, d.from_id) as last_entry_id,
           x.n as entries
      from d
     cross join lateral (
           select coalesce(sum(case e.direction when 'debit' then e.amount else -e.amount end), 0) as delta,
                  max(e.id) as hi, count(*)::int as n
             from gw.ledger_entries e
            where e.account_id = d.id and e.id > d.from_id) x
     order by d.id`;
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    currency: r.currency,
    kept: r.kept,
    fromEntries: r.from_entries,
    lastEntryId: r.last_entry_id,
    entries: r.entries,
  }));
}

/** Moves each account's checkpoint to what was proved from its entries (the entries' truth, not the kept balance). */
export async function saveCheckpoints(tx: Tx, proofs: readonly AccountProof[]): Promise<void> {
  if (proofs.length === 0) return;
  const rows = proofs.map((p) => ({ accountId: p.id, entryId: p.lastEntryId, balance: p.fromEntries }));
  await tx`
    insert into gw.ledger_check_accounts (account_id, entry_id, balance)
    select r."accountId", r."entryId", r.balance
      from json_to_recordset(${tx.json(rows)}::json) as r("accountId" bigint, "entryId" bigint, balance numeric)
    on conflict (account_id) do update set entry_id = excluded.entry_id, balance = excluded.balance`;
}

/** Ledger transactions of the merchant whose entries do not balance per currency: a full pass only (O(entries)). */
export async function listUnbalancedTransactions(tx: Tx, merchantId: string): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    select t.id
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id
     where t.merchant_id = ${merchantId}
     group by t.id, e.currency
    having sum(case e.direction when 'debit' then e.amount else -e.amount end) <> 0`;
  return rows.map((r) => r.id);
}

/** When the merchant's ledger last had a full pass, or null. */
export async function lastFullCheck(tx: Tx, merchantId: string): Promise<Date | null> {
  const [row] = await tx<{ at: Date | null }[]>`
    select max(started_at) as at from gw.ledger_checks where merchant_id = ${merchantId} and kind = 'full'`;
  return row?.at ?? null;
}

/** Merchants that have a ledger (at least one account). */
export async function listLedgerMerchants(tx: Tx): Promise<string[]> {
  const rows = await tx<{ merchant_id: string }[]>`select distinct merchant_id from gw.ledger_accounts order by merchant_id`;
  return rows.map((r) => r.merchant_id);
}

/** A `gw.ledger_checks` row. */
export interface LedgerCheckRow {
  id: string;
  merchant_id: string;
  kind: 'incremental' | 'full';
  status: 'passed' | 'failed';
  entries: string;
  accounts: number;
  problems: Record<string, unknown>[];
  started_at: Date;
  finished_at: Date;
}

/** Records one check. */
export async function insertLedgerCheck(tx: Tx, row: Omit<LedgerCheckRow, 'entries'> & { entries: number }): Promise<void> {
  await tx`
    insert into gw.ledger_checks (id, merchant_id, kind, status, entries, accounts, problems, started_at, finished_at)
    values (${row.id}, ${row.merchant_id}, ${row.kind}, ${row.status}, ${row.entries}, ${row.accounts},
            ${tx.json(row.problems as never)}, ${row.started_at}, ${row.finished_at})`;
}

/** The merchant's checks, newest first, `limit + 1` rows before `startingAfter`, optionally of one status. */
export async function listLedgerChecks(
  tx: Tx,
  merchantId: string,
  limit: number,
  startingAfter?: string,
  status?: string,
): Promise<LedgerCheckRow[]> {
  return tx<LedgerCheckRow[]>`
    select * from gw.ledger_checks
     where merchant_id = ${merchantId}
       ${startingAfter ? tx`and id < ${startingAfter}` : tx``}
       ${status ? tx`and status = ${status}` : tx``}
     order by id desc
     limit ${limit + 1}`;
}
