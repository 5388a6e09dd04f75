// (node) SQL of reconciliation: runs, the staging/items table loaded by COPY, set-based matching and settlement postings.
import type { Writable } from 'node:stream';
import type { Tx } from '../core/db/client.js';
import type { ReportFormat } from './formats.js';

/** A source a report may be reconciled for. */
export interface ReconcilableSource {
  id: string;
  provider: string;
  settlementDelaySeconds: number;
}

/** The merchant's source `id` (any provider; the caller checks it is Stripe or Adyen), or undefined. */
export async function getSourceForReconciliation(tx: Tx, merchantId: string, id: string): Promise<ReconcilableSource | undefined> {
  const [row] = await tx<{ id: string; provider: string; settlement_delay_seconds: number }[]>`
    select id, provider, settlement_delay_seconds from gw.sources where merchant_id = ${merchantId} and id = ${id}`;
  return row && { id: row.id, provider: row.provider, settlementDelaySeconds: row.settlement_delay_seconds };
}

/** A reconciliation run as stored. */
export interface RunRow {
  id: string;
  merchant_id: string;
  source_id: string;
  format: ReportFormat;
  status: 'processing' | 'completed' | 'failed';
  payout_id: string | null;
  batch_number: string | null;
  period_start: Date | null;
  period_end: Date | null;
  lines: number;
  lines_done: number;
  position_done: number;
  counts: Record<string, number> | null;
  totals: { currency: string; gross: string; fee: string; net: string }[] | null;
  error: string | null;
  created_at: Date;
  completed_at: Date | null;
  /** The report's bytes are still spooled: the job has not read them into items yet (queued, or being read). */
  spooled: boolean;
}

/** Inserts a run being loaded (no hash yet: {@link finishLoad} sets it). */
export async function insertRun(
  tx: Tx,
  run: { id: string; merchantId: string; sourceId: string; format: ReportFormat; at: Date },
): Promise<void> {
  await tx`
    insert into gw.reconciliation_runs (id, merchant_id, source_id, format, status, created_at)
    values (${run.id}, ${run.merchantId}, ${run.sourceId}, ${run.format}, 'processing', ${run.at})`;
}

/** The source's run of the report with this SHA-256, if any. */
export async function findRunByHash(tx: Tx, sourceId: string, sha256: Uint8Array): Promise<RunRow | undefined> {
  const [row] = await tx<RunRow[]>`
    select r.*, ${spooledColumn(tx)} from gw.reconciliation_runs r where r.source_id = ${sourceId} and r.sha256 = ${Buffer.from(sha256)}`;
  return row;
}

/** Sets the SHA-256 of a spooled report's bytes (the unique key that answers the same bytes again with this run). */
export async function setRunHash(tx: Tx, runId: string, sha256: Uint8Array): Promise<void> {
  await tx`update gw.reconciliation_runs set sha256 = ${Buffer.from(sha256)} where id = ${runId}`;
}

/** Stores chunk `seq` (from 0) of a run's report bytes (sql/0110), in the caller's transaction. */
export async function insertSpoolChunk(tx: Tx, runId: string, seq: number, data: Uint8Array): Promise<void> {
  await tx`insert into gw.reconciliation_spool (run_id, seq, data) values (${runId}, ${seq}, ${Buffer.from(data.buffer, data.byteOffset, data.byteLength)})`;
}

/** Chunk `seq` of a run's spooled report, or undefined past the last one. */
export async function readSpoolChunk(tx: Tx, runId: string, seq: number): Promise<Uint8Array | undefined> {
  const [row] = await tx<{ data: Buffer }[]>`select data from gw.reconciliation_spool where run_id = ${runId} and seq = ${seq}`;
  return row?.data;
}

/** Whether the run's report is still spooled (not yet loaded into items). */
export async function isSpooled(tx: Tx, runId: string): Promise<boolean> {
  const [row] = await tx<{ spooled: boolean }[]>`
    select exists (select 1 from gw.reconciliation_spool where run_id = ${runId}) as spooled`;
  return row?.spooled === true;
}

/** Drops a run's spooled bytes (loaded, or the run failed). */
export async function deleteSpool(tx: Tx, runId: string): Promise<void> {
  await tx`delete from gw.reconciliation_spool where run_id = ${runId}`;
}

/** Records what loading found: line count, payout or batch, period. */
export async function finishLoad(
  tx: Tx,
  runId: string,
  load: { lines: number; payoutId: string | null; batchNumber: string | null },
): Promise<void> {
  await tx`
    update gw.reconciliation_runs r
       set lines = ${load.lines}, payout_id = ${load.payoutId}, batch_number = ${load.batchNumber},
           period_start = (select min(occurred_at) from gw.reconciliation_items where run_id = ${runId}),
           period_end = (select max(occurred_at) from gw.reconciliation_items where run_id = ${runId})
     where id = ${runId}`;
}

/** The columns COPY writes, in the order {@link copyRow} joins them. */
const COPY_COLUMNS =
  'run_id, position, line_no, line_id, category, psp_type, payment_ref, operation_ref, currency, gross, fee, net, occurred_at, payout_ref, result, detail, net_currency';

/** A COPY stream into the items table (text format, rows from {@link copyRow}); the caller's transaction. */
export async function copyItems(tx: Tx): Promise<Writable> {
  return tx.unsafe(`copy gw.reconciliation_items (${COPY_COLUMNS}) from stdin`).writable();
}

/** COPY text-format escaping of one field (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2); null is `\N`. */
function copyField(v: string | number | bigint | null): string {
  if (v === null) return '\\N';
  const s = String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}

/** One item row for {@link copyItems}, fields in COPY_COLUMNS order, as a text line. */
export function copyRow(fields: readonly (string | number | bigint | null)[]): string {
  return `${fields.map(copyField).join('\t')}\n`;
}

/**
 * Matches the items of run positions [lo, hi] in one statement (hash joins of the items with payments and their
 * operations): each gets `ignored`, `missingInLedger`, `matched` or `amountMismatch` with the ledger's expected
 * amount (signed minor units). Source: docs/http-api.md "Reconciliation".
 */
export async function matchItems(tx: Tx, run: { id: string; sourceId: string; provider: string }, lo: number, hi: number): Promise<void> {
  await tx`
    with lines as (
      select i.position, i.category, i.currency, i.gross, i.fee, i.net, i.net_currency, i.payment_ref, i.operation_ref, i.psp_type
        from gw.reconciliation_items i
       where i.run_id = ${run.id} and i.position between ${lo} and ${hi} and i.result is null
    ), pays as (
      select p.id, p.psp_reference, p.currency, p.amount, p.captured_amount
        from gw.payments p
       where p.source_id = ${run.sourceId}
         and p.psp_reference in (select payment_ref from lines where payment_ref is not null)
    ), ops as (
      select o.payment_id, o.kind, o.psp_reference,
             max(o.amount) as amount,
             bool_or(o.outcome = 'succeeded') as succeeded,
             bool_or(o.outcome = 'failed') as failed,
             bool_or(o.outcome in ('won', 'reversed')) as won
        from (select payment_id, kind, psp_reference, amount, outcome
                from gw.payment_operations
               where payment_id in (select id from pays)
              -- a refund the payments API made is known by the PSP's refund id on its API operation
              union all
              select payment_id, 'refund', operation_reference, amount, status
                from gw.psp_operations
               where payment_id in (select id from pays) and kind = 'refund' and operation_reference is not null
                 and status in ('succeeded', 'failed')) o
       group by o.payment_id, o.kind, o.psp_reference
    ), m as (
      select l.position, p.id as payment_id, p.currency as payment_currency, l.currency, l.gross, l.fee, l.net, l.net_currency,
             l.category, l.payment_ref, l.operation_ref, l.psp_type,
             case l.category
               when 'charge' then coalesce(
                 case when o.succeeded then o.amount end,
                 case when p.captured_amount > 0 then case when ${run.provider} = 'stripe' then p.amount else p.captured_amount end end)
               when 'capture_reversal' then case when p.amount > p.captured_amount and p.captured_amount > 0 then p.captured_amount - p.amount end
               when 'refund' then case when o.succeeded then -o.amount end
               when 'refund_reversal' then case when o.failed then o.amount end
               when 'dispute' then -o.amount
               when 'dispute_reversal' then case when o.won then o.amount end
             end as expected
        from lines l
        left join pays p on p.psp_reference = l.payment_ref and l.category not in ('payout', 'other', 'fee')
        left join ops o
          on o.payment_id = p.id and o.psp_reference = l.operation_ref
         and o.kind = case l.category when 'charge' then 'capture' when 'refund' then 'refund' when 'refund_reversal' then 'refund'
                                      when 'dispute' then 'dispute' when 'dispute_reversal' then 'dispute' end
    )
    update gw.reconciliation_items i
       set payment_id = m.payment_id,
           expected = case when m.category = 'fee' then m.gross when m.payment_currency = m.currency then m.expected end,
           result = case
                      when m.category in ('payout', 'other') then 'ignored'
                      when m.category = 'fee' then 'matched'
                      when m.payment_id is null then 'missingInLedger'
                      when m.payment_currency <> m.currency then 'amountMismatch'
                      when m.expected is null then 'missingInLedger'
                      when m.expected = m.gross then 'matched'
                      else 'amountMismatch'
                    end,
           detail = nullif(concat_ws('; ', case
                      when m.category in ('payout', 'other') then m.psp_type || ' moves no payment money'
                      when m.category = 'fee' then 'a fee billed on its own line: posted to psp_fees'
                      when m.payment_id is null then 'no payment ' || m.payment_ref || ' of this source in the ledger'
                      when m.payment_currency <> m.currency then 'the payment is in ' || m.payment_currency || ', the line in ' || m.currency
                      when m.expected is null then 'the ledger has no ' || m.category || ' ' || coalesce(m.operation_ref, m.payment_ref)
                                                   || ' to settle on payment ' || m.payment_id
                      when m.expected = m.gross then null
                      else 'reported ' || m.gross || ', the ledger expects ' || m.expected || ' (minor units)'
                    end,
                    case when m.net_currency is not null
                         then 'converted: fee ' || m.fee || ' and net ' || m.net || ' in ' || m.net_currency
                              || ' (minor units), the conversion through fx_conversion' end), '')
      from m
     where i.run_id = ${run.id} and i.position = m.position`;
}

/**
 * Claims the settlement of each matched or mismatched line of positions [lo, hi] (gw.settlement_postings, one row per
 * (source, PSP line id)); a line already settled, by an earlier report or earlier in this one, becomes `duplicate`.
 */
export async function claimSettlements(tx: Tx, run: { id: string; sourceId: string }, lo: number, hi: number): Promise<void> {
  await tx`
    with ins as (
      insert into gw.settlement_postings (source_id, line_id, run_id, position, payment_id, category, operation_ref)
      select ${run.sourceId}, i.line_id, i.run_id, i.position, i.payment_id, i.category, i.operation_ref
        from gw.reconciliation_items i
       where i.run_id = ${run.id} and i.position between ${lo} and ${hi}
         and i.result in ('matched', 'amountMismatch') and i.expected is not null
       order by i.position
      on conflict (source_id, line_id) do nothing
      returning position
    ), dup as (
      select i.position, sp.run_id as by_run, sp.position as by_position
        from gw.reconciliation_items i
        left join gw.settlement_postings sp on sp.source_id = ${run.sourceId} and sp.line_id = i.line_id
       where i.run_id = ${run.id} and i.position between ${lo} and ${hi}
         and i.result in ('matched', 'amountMismatch') and i.expected is not null
         and i.position not in (select position from ins)
    )
    update gw.reconciliation_items i
       set result = 'duplicate',
           detail = case when d.by_run is null then 'line ' || i.line_id || ' appears earlier in this report'
                         else 'line ' || i.line_id || ' was settled by ' || d.by_run || ' (line ' || d.by_position || ')' end
      from dup d
     where i.run_id = ${run.id} and i.position = d.position`;
}

/**
 * Posts one `settlement` ledger transaction per line this run claimed in positions [lo, hi], through gw.post_legs
 * (sql/0137) with the legs built in the database from the claimed items: `psp_receivable` credited the expected gross,
 * `psp_fees` debited the fee, `bank` debited the net, `settlement_differences` debited expected less reported gross
 * (signs flip for negative amounts; zero entries left out); a `fee` line (a fee billed alone) debits `psp_fees` what
 * it takes from `bank`. A line with currency conversion has its fee and net in `net_currency`, and `fx_conversion`
 * takes the gross in the line's currency against net + fee in the net currency, so each currency balances.
 * Cause `settlement:<source>:<line id>`. Returns the ids posted.
 * @throws check_violation (23514) should a line's legs not balance (they always do: net = gross - fee is checked on read).
 */
export async function postSettlements(
  tx: Tx,
  run: { id: string; merchantId: string; sourceId: string },
  lo: number,
  hi: number,
): Promise<string[]> {
  const [row] = await tx<{ ids: string[] }[]>`
    select gw.post_legs(${run.merchantId}, coalesce(array_agg(
             row(i.position, i.payment_id, 'settlement:' || ${run.sourceId}::text || ':' || i.line_id, 'settlement', v.account,
                 case when v.amount > 0 then 'debit' else 'credit' end, abs(v.amount), v.currency)::gw.ledger_leg
             order by i.position, v.n), '{}')) as ids
      from gw.settlement_postings sp
      join gw.reconciliation_items i on i.run_id = sp.run_id and i.position = sp.position
     cross join lateral (
           values (1, 'psp_receivable', case when i.category = 'fee' then 0 else -i.expected end, i.currency),
                  (2, 'psp_fees', case when i.category = 'fee' then i.fee - i.gross else i.fee end, coalesce(i.net_currency, i.currency)),
                  (3, 'bank', i.net, coalesce(i.net_currency, i.currency)),
                  (4, 'settlement_differences', case when i.category = 'fee' then 0 else i.expected - i.gross end, i.currency),
                  (5, 'fx_conversion', case when i.net_currency is not null then i.gross else 0 end, i.currency),
                  (6, 'fx_conversion', case when i.net_currency is not null then -(i.net + i.fee) else 0 end, i.net_currency))
           v(n, account, amount, currency)
     where sp.source_id = ${run.sourceId} and sp.run_id = ${run.id} and sp.position between ${lo} and ${hi}
       and v.amount <> 0`;
  return row?.ids ?? [];
}

/** An item as the API shows it. */
export interface ItemRow {
  position: number;
  line_no: number | null;
  line_id: string | null;
  category: string | null;
  psp_type: string | null;
  payment_ref: string | null;
  operation_ref: string | null;
  currency: string | null;
  gross: string | null;
  fee: string | null;
  net: string | null;
  /** The fee's and net's currency when the line was converted (Adyen), else null. */
  net_currency: string | null;
  result: string;
  payment_id: string | null;
  expected: string | null;
  detail: string | null;
}

/** Items of positions [lo, hi] that the merchant is told about: every result but `matched` and `ignored`. */
export async function listNoticeItems(tx: Tx, runId: string, lo: number, hi: number): Promise<ItemRow[]> {
  return tx<ItemRow[]>`
    select position, line_no, line_id, category, psp_type, payment_ref, operation_ref, currency, gross, fee, net, net_currency,
           result, payment_id, expected, detail
      from gw.reconciliation_items
     where run_id = ${runId} and position between ${lo} and ${hi} and result not in ('matched', 'ignored')
     order by position`;
}

/**
 * Refreshes the planner's statistics of the items table: right after a bulk load they still describe the table before
 * it, and the matching statement's hash joins are only chosen on figures near the truth. Sample-based (bounded cost).
 */
export async function analyzeItems(tx: Tx): Promise<void> {
  await tx`analyze gw.reconciliation_items`;
}

/** The next `size` report lines of a run after position `after`: their first and last positions, or undefined when none remain. */
export async function nextChunk(
  tx: Tx,
  runId: string,
  after: number,
  size: number,
): Promise<{ lo: number; hi: number; lines: number } | undefined> {
  const [row] = await tx<{ lo: number | null; hi: number | null; lines: number }[]>`
    select min(position) as lo, max(position) as hi, count(*)::int as lines
      from (select position from gw.reconciliation_items
             where run_id = ${runId} and position > ${after} and line_no is not null
             order by position limit ${size}) c`;
  return row && row.lo !== null && row.hi !== null ? { lo: row.lo, hi: row.hi, lines: row.lines } : undefined;
}

/** Records that the job matched `lines` more lines, up to position `hi`. */
export async function setProgress(tx: Tx, runId: string, hi: number, lines: number): Promise<void> {
  await tx`update gw.reconciliation_runs set position_done = ${hi}, lines_done = lines_done + ${lines} where id = ${runId}`;
}

/**
 * Adds `missingInReport` items after position `after`: captures and succeeded refunds (reported by webhook, or made
 * through the payments API) of the source recorded before `before` that no report has settled. Returns how many.
 */
export async function addMissingInReport(tx: Tx, run: { id: string; sourceId: string }, after: number, before: Date): Promise<number> {
  const rows = await tx`
    insert into gw.reconciliation_items
      (run_id, position, category, payment_ref, operation_ref, currency, gross, fee, net, occurred_at, result, payment_id, expected, detail)
    select ${run.id}, ${after}::int + row_number() over (order by x.at, x.payment_id, x.operation_ref),
           x.category, x.payment_ref, x.operation_ref, x.currency, null, null, null, x.at, 'missingInReport', x.payment_id, x.expected,
           'the ledger recorded this ' || x.category || ' at ' || to_char(x.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           || ' and no report has settled it'
      from (select 'charge' as category, p.psp_reference as payment_ref, null::text as operation_ref, p.currency,
                   p.id as payment_id, p.captured_amount as expected, min(lt.created_at) as at
              from gw.payments p
              join gw.ledger_transactions lt on lt.payment_id = p.id and lt.kind = 'capture'
             where p.source_id = ${run.sourceId} and p.captured_amount > 0
               and not exists (select 1 from gw.settlement_postings sp where sp.payment_id = p.id and sp.category = 'charge')
             group by p.id
            having min(lt.created_at) < ${before}
            union all
            select 'refund', p.psp_reference, o.psp_reference, p.currency, p.id, -max(o.amount), min(o.at)
              from (select payment_id, psp_reference, amount, at
                      from gw.payment_operations
                     where kind = 'refund' and outcome = 'succeeded'
                    -- a refund the payments API made, known by the PSP's refund id on its API operation
                    union all
                    select payment_id, operation_reference, amount, updated_at
                      from gw.psp_operations
                     where source_id = ${run.sourceId} and kind = 'refund' and status = 'succeeded'
                       and operation_reference is not null and payment_id is not null) o
              join gw.payments p on p.id = o.payment_id
             where p.source_id = ${run.sourceId}
               and not exists (select 1 from gw.settlement_postings sp
                                where sp.source_id = ${run.sourceId} and sp.operation_ref = o.psp_reference and sp.category = 'refund')
             group by p.id, o.psp_reference
            having min(o.at) < ${before}) x
    returning position`;
  return rows.length;
}

/** Marks the run completed with its counts per result and totals per currency (every readable line, `ignored` ones too). */
export async function completeRun(tx: Tx, runId: string, at: Date): Promise<RunRow> {
  const [row] = await tx<RunRow[]>`
    update gw.reconciliation_runs r
       set status = 'completed', completed_at = ${at}, lines_done = r.lines,
           counts = (select coalesce(jsonb_object_agg(result, n), '{}'::jsonb)
                       from (select result, count(*) as n from gw.reconciliation_items where run_id = ${runId} group by result) c),
           totals = (select coalesce(jsonb_agg(jsonb_build_object('currency', currency, 'gross', gross::text, 'fee', fee::text,
                                                                   'net', net::text) order by currency), '[]'::jsonb)
                       -- a converted line's gross counts in its currency, its fee and net in the net currency
                       from (select x.currency, sum(x.gross) as gross, sum(x.fee) as fee, sum(x.net) as net
                               from gw.reconciliation_items i
                              cross join lateral (values (i.currency, i.gross, 0::bigint, 0::bigint),
                                                         (coalesce(i.net_currency, i.currency), 0::bigint, i.fee, i.net))
                                   x(currency, gross, fee, net)
                              where i.run_id = ${runId} and i.line_no is not null and i.result <> 'invalid'
                              group by x.currency) t)
     where id = ${runId}
    returning *, false as spooled`;
  return row!;
}

/** Marks the run failed with a reason for the merchant. */
export async function failRun(tx: Tx, runId: string, reason: string, at: Date): Promise<void> {
  await tx`update gw.reconciliation_runs set status = 'failed', error = ${reason}, completed_at = ${at} where id = ${runId} and status = 'processing'`;
}

/** RunRow's `spooled`, for a query of gw.reconciliation_runs aliased `r`. */
const spooledColumn = (tx: Tx) => tx`exists (select 1 from gw.reconciliation_spool s where s.run_id = r.id) as spooled`;

/** The run `id` (of any merchant when `merchantId` is null), or undefined. */
export async function getRun(tx: Tx, merchantId: string | null, id: string): Promise<RunRow | undefined> {
  const [row] = await tx<RunRow[]>`
    select r.*, ${spooledColumn(tx)} from gw.reconciliation_runs r where r.id = ${id} ${merchantId === null ? tx`` : tx`and r.merchant_id = ${merchantId}`}`;
  return row;
}

/** The merchant's runs, newest first, `limit + 1` rows from before `startingAfter`. */
export async function listRuns(tx: Tx, merchantId: string, limit: number, startingAfter?: string): Promise<RunRow[]> {
  return tx<RunRow[]>`
    select r.*, ${spooledColumn(tx)} from gw.reconciliation_runs r
     where r.merchant_id = ${merchantId} ${startingAfter ? tx`and r.id < ${startingAfter}` : tx``}
     order by r.id desc
     limit ${limit + 1}`;
}

/** A run's items in position order after `after`, `limit + 1` rows, optionally of one result. */
export async function listItems(tx: Tx, runId: string, limit: number, after: number, result?: string): Promise<ItemRow[]> {
  return tx<ItemRow[]>`
    select position, line_no, line_id, category, psp_type, payment_ref, operation_ref, currency, gross, fee, net, net_currency,
           result, payment_id, expected, detail
      from gw.reconciliation_items
     where run_id = ${runId} and position > ${after} ${result ? tx`and result = ${result}` : tx``}
     order by position
     limit ${limit + 1}`;
}

/** What pulling a report from the PSP needs of a source: its PSP credentials, still sealed (sql/0011, sql/0100). */
export interface PullSourceRow {
  id: string;
  merchantId: string;
  provider: string;
  apiKeyCiphertext: string | null;
  apiBaseUrl: string | null;
  reportCredentialsCiphertext: string | null;
}

/** The merchant's source `id` with its sealed PSP credentials, or undefined. */
export async function getPullSource(tx: Tx, merchantId: string, id: string): Promise<PullSourceRow | undefined> {
  const [row] = await tx<
    {
      id: string;
      merchant_id: string;
      provider: string;
      api_key_ciphertext: string | null;
      api_base_url: string | null;
      report_credentials_ciphertext: string | null;
    }[]
  >`
    select id, merchant_id, provider, api_key_ciphertext, api_base_url, report_credentials_ciphertext
      from gw.sources where merchant_id = ${merchantId} and id = ${id}`;
  return (
    row && {
      id: row.id,
      merchantId: row.merchant_id,
      provider: row.provider,
      apiKeyCiphertext: row.api_key_ciphertext,
      apiBaseUrl: row.api_base_url,
      reportCredentialsCiphertext: row.report_credentials_ciphertext,
    }
  );
}

/** A source's reconciliation settings (seconds). */
export interface ReconciliationSettingsRow {
  sourceId: string;
  provider: string;
  settlementDelaySeconds: number;
  stuckAfterSeconds: number;
  hasReportCredentials: boolean;
}

const toSettings = (r: {
  id: string;
  provider: string;
  settlement_delay_seconds: number;
  stuck_after_seconds: number;
  has_report_credentials: boolean;
}): ReconciliationSettingsRow => ({
  sourceId: r.id,
  provider: r.provider,
  settlementDelaySeconds: r.settlement_delay_seconds,
  stuckAfterSeconds: r.stuck_after_seconds,
  hasReportCredentials: r.has_report_credentials,
});

/** The merchant's source `id`'s reconciliation settings, or undefined. */
export async function getReconciliationSettings(tx: Tx, merchantId: string, id: string): Promise<ReconciliationSettingsRow | undefined> {
  const [row] = await tx<Parameters<typeof toSettings>[0][]>`
    select id, provider, settlement_delay_seconds, stuck_after_seconds, report_credentials_ciphertext is not null as has_report_credentials
      from gw.sources where merchant_id = ${merchantId} and id = ${id}`;
  return row && toSettings(row);
}

/**
 * Changes the given settings of the merchant's source `id` (an absent field is left as it is; `reportCredentials`
 * null removes them, a string is the sealed JSON). Returns the settings after, or undefined when there is no such source.
 */
export async function updateReconciliationSettings(
  tx: Tx,
  merchantId: string,
  id: string,
  change: { settlementDelaySeconds?: number; stuckAfterSeconds?: number; reportCredentials?: string | null },
): Promise<ReconciliationSettingsRow | undefined> {
  const keep = change.reportCredentials === undefined;
  const [row] = await tx<Parameters<typeof toSettings>[0][]>`
    update gw.sources
       set settlement_delay_seconds = coalesce(${change.settlementDelaySeconds ?? null}::int, settlement_delay_seconds),
           stuck_after_seconds = coalesce(${change.stuckAfterSeconds ?? null}::int, stuck_after_seconds),
           report_credentials_ciphertext = case when ${keep}::boolean then report_credentials_ciphertext
                                                else ${change.reportCredentials ?? null}::text end
     where merchant_id = ${merchantId} and id = ${id}
    returning id, provider, settlement_delay_seconds, stuck_after_seconds, report_credentials_ciphertext is not null as has_report_credentials`;
  return row && toSettings(row);
}

/** A stuck payment (sql/0100) with its payment's figures, as the API lists it. */
export interface StuckPaymentRow {
  payment_id: string;
  source_id: string;
  psp_reference: string;
  status: string;
  amount: string;
  currency: string;
  pending_since: Date;
  detected_at: Date;
  checked_at: Date | null;
  psp_status: string | null;
  detail: string;
  resolved_at: Date | null;
  resolved_status: string | null;
}

/** The merchant's stuck payments, by payment id descending, `limit + 1` rows after `startingAfter`; `open` or `resolved` only when asked. */
export async function listStuckPayments(
  tx: Tx,
  merchantId: string,
  limit: number,
  startingAfter?: string,
  state?: 'open' | 'resolved',
): Promise<StuckPaymentRow[]> {
  return tx<StuckPaymentRow[]>`
    select sp.payment_id, sp.source_id, p.psp_reference, p.status, p.amount::text as amount, p.currency, sp.pending_since,
           sp.detected_at, sp.checked_at, sp.psp_status, sp.detail, sp.resolved_at, sp.resolved_status
      from gw.stuck_payments sp
      join gw.payments p on p.id = sp.payment_id
     where sp.merchant_id = ${merchantId}
       ${startingAfter ? tx`and sp.payment_id < ${startingAfter}` : tx``}
       ${state === 'open' ? tx`and sp.resolved_at is null` : state === 'resolved' ? tx`and sp.resolved_at is not null` : tx``}
     order by sp.payment_id desc
     limit ${limit + 1}`;
}
