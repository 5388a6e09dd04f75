// The `check_ledgers` cron task: every merchant's kept balances proved against their entries, incrementally.
import { Decimal } from 'decimal.js';
import type { Deps } from '../core/deps.js';
import type { z } from 'zod';
import type { LedgerImbalanceData } from '../core/events/event-data.js';
import { emitOperatorEvent } from '../core/events/operator-event-store.js';
import { emitEvents } from '../core/events/outbox.js';
import { newId } from '../core/ids.js';
import { toJsonAmount } from '../core/money.js';
import {
  insertLedgerCheck,
  lastFullCheck,
  listLedgerMerchants,
  listUnbalancedTransactions,
  proveAccounts,
  saveCheckpoints,
  type LedgerCheckRow,
} from './ledger-check-store.js';

/** A merchant's ledger gets a full pass (every entry) when its last one is older than this, ms. */
export const FULL_CHECK_EVERY_MS = 24 * 3600 * 1000;

/** One thing a check found wrong. */
type Problem =
  | { problem: 'balance_drift'; account: string; currency: string; kept: number; fromEntries: number }
  | { problem: 'currency_unbalanced'; currency: string; sum: number }
  | { problem: 'transaction_unbalanced'; transactionId: string };

/** A check as `GET /v1/ledger/checks` lists it and `ledger.imbalance` carries it. */
export function ledgerCheckRunView(r: LedgerCheckRow): z.infer<typeof LedgerImbalanceData> {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    entries: Number(r.entries),
    accounts: r.accounts,
    problems: r.problems as z.infer<typeof LedgerImbalanceData>['problems'], // stored from `Problem[]`
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at.toISOString(),
  };
}

/**
 * Checks one merchant's ledger in one transaction: each account's kept balance against its checkpoint plus the entries
 * after it (`full`: all entries, and every transaction balanced), and the accounts' sum per currency against zero.
 * Records a `gw.ledger_checks` row, moves the checkpoints, and on a failure emits `ledger.imbalance` (the check as
 * `data`) to the merchant and, once per merchant and hour as `GET /v1/ledger/check` does, to the operator, logs at error and counts it (`switchyard_ledger_check_failures_total`). Returns the check.
 */
export async function checkMerchantLedger(
  deps: Pick<Deps, 'sql' | 'clock' | 'logger' | 'metrics' | 'config'>,
  merchantId: string,
  options: { full?: boolean } = {},
): Promise<LedgerCheckRow> {
  const started = deps.clock();
  const check = await deps.sql.begin(async (tx) => {
    const last = options.full === undefined ? await lastFullCheck(tx, merchantId) : null;
    const full = options.full ?? (last === null || started.getTime() - last.getTime() >= FULL_CHECK_EVERY_MS);
    const proofs = await proveAccounts(tx, merchantId, full);
    const problems: Problem[] = [];
    const sums = new Map<string, Decimal>();
    for (const p of proofs) {
      if (!new Decimal(p.kept).equals(p.fromEntries)) {
        problems.push({
          problem: 'balance_drift',
          account: p.code,
          currency: p.currency,
          kept: toJsonAmount(p.kept),
          fromEntries: toJsonAmount(p.fromEntries),
        });
      }
      sums.set(p.currency, (sums.get(p.currency) ?? new Decimal(0)).plus(p.fromEntries));
    }
    for (const [currency, sum] of sums)
      if (!sum.isZero()) problems.push({ problem: 'currency_unbalanced', currency, sum: toJsonAmount(sum) });
    if (full)
      for (const id of await listUnbalancedTransactions(tx, merchantId))
        problems.push({ problem: 'transaction_unbalanced', transactionId: id });
    await saveCheckpoints(tx, proofs);
    const row: LedgerCheckRow = {
      id: newId('lck', started),
      merchant_id: merchantId,
      kind: full ? 'full' : 'incremental',
      status: problems.length === 0 ? 'passed' : 'failed',
      entries: String(proofs.reduce((n, p) => n + p.entries, 0)),
      accounts: proofs.length,
      problems,
      started_at: started,
      finished_at: deps.clock(),
    };
    await insertLedgerCheck(tx, { ...row, entries: Number(row.entries) });
    if (row.status === 'failed') {
      await emitEvents(tx, [
        {
          merchantId,
          type: 'ledger.imbalance',
          paymentId: null,
          dedupeKey: `ledger.imbalance:${row.id}`,
          data: ledgerCheckRunView(row),
          at: started,
        },
      ]);
      await emitOperatorEvent(tx, deps.config, {
        type: 'ledger.imbalance',
        merchantId,
        // the key GET /v1/ledger/check uses: the operator hears of a merchant's imbalance once an hour, whoever found it
        dedupeKey: `ledger.imbalance:${merchantId}:${started.toISOString().slice(0, 13)}`,
        data: ledgerCheckRunView(row),
        at: started,
      });
    }
    return row;
  });
  if (check.status === 'failed') {
    deps.metrics?.ledgerCheckFailed();
    deps.logger.error({ merchantId, checkId: check.id, kind: check.kind, problems: check.problems }, 'ledger check failed');
  }
  return check;
}

/** The cron task: {@link checkMerchantLedger} for every merchant with a ledger, one after the other; returns the checks. */
export async function checkLedgers(deps: Pick<Deps, 'sql' | 'clock' | 'logger' | 'metrics' | 'config'>): Promise<LedgerCheckRow[]> {
  const out: LedgerCheckRow[] = [];
  for (const merchantId of await listLedgerMerchants(deps.sql)) out.push(await checkMerchantLedger(deps, merchantId));
  return out;
}
