// Applies PSP (or payments API) reports about payments in the caller's transaction: link provisional references →
// lock each payment once → next() → save → merchant-facing events → settle API operations → ledger postings, last.
import { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { journalFor, type JournalEntry } from '../ledger/journal.js';
import { postTransactions } from '../ledger/ledger-store.js';
import { emitEvents, type EventToEmit, type FirstAttemptHandoff } from '../events/outbox.js';
import { claimPendingReferences, settleOperationsByWebhook, type OperationSettlement } from './operation-store.js';
import { lockOrCreatePayments, savePaymentOutcomes, type Payment, type PaymentOutcomes } from './payment-store.js';
import { paymentView } from './payment-view.js';
import { next, type Outcome, type PaymentEvent } from './state-machine.js';
import type { PspRiskFacts } from '../risk/attributes.js';

/** A PSP-neutral report on one payment: its PSP reference, currency (ISO 4217, upper case) and what happened (minor units). */
export interface PaymentReport extends PaymentEvent {
  pspReference: string;
  currency: string;
  merchantReference?: string;
  /**
   * The API operation that created the payment, when the PSP echoes `switchyard_op` back: a payment still stored
   * under `pending:<operationId>` (its create call timed out) is first linked to `pspReference`.
   */
  operationId?: string;
  /** What the PSP payload says of the card, customer and shopper, for risk rules (README "Risk rules"). */
  riskFacts?: PspRiskFacts;
}

/** One report to apply, with the merchant and source it came through. */
export interface ReportToApply {
  merchantId: string;
  sourceId: string;
  report: PaymentReport;
  /** Unique per report (inbound event id, or the API operation id), so a replay posts and emits nothing twice. */
  cause: string;
}

/** What applying one report did. */
type ApplyResult =
  | { result: 'applied' | 'stale'; payment: Payment; created: boolean; outcome: Outcome; events: number }
  | { result: 'currency_mismatch'; payment: Payment; reason: string };

/** Reports locked and decided by {@link preparePaymentReports}: a result per report, and the writes to send. */
interface PreparedReports {
  results: ApplyResult[];
  saves: PaymentOutcomes;
  events: EventToEmit[];
  settlements: OperationSettlement[];
  /** Ledger transactions by merchant. */
  postings: Map<string, { paymentId: string; cause: string; kind: string; entries: JournalEntry[] }[]>;
}

/**
 * Applies reports in the caller's transaction ({@link preparePaymentReports}, then {@link writePaymentReports}).
 * Returns one result per report, in input order. Throws only on database errors.
 * @example
 * const [r] = await applyPaymentReports(tx, [{ merchantId, sourceId, cause: 'iev_…',
 *   report: { pspReference: 'pi_1', currency: 'USD', kind: 'captured', capturedTotal: new Decimal(500) } }], now);
 */
export async function applyPaymentReports(tx: Tx, items: readonly ReportToApply[], now: Date): Promise<ApplyResult[]> {
  const prepared = await preparePaymentReports(tx, items, now);
  await writePaymentReports(tx, prepared);
  return prepared.results;
}

/**
 * First half of applying reports at `now`: links the provisional references that {@link PaymentReport.operationId}
 * names; locks (or creates, `pending`) each payment once, in (source, PSP reference) order so callers sharing
 * payments cannot deadlock; runs each payment's reports through `next()` in memory, in order, refusing one in
 * another currency (`currency_mismatch`). Writes no outcome: the caller passes it to {@link writePaymentReports}.
 */
export async function preparePaymentReports(tx: Tx, items: readonly ReportToApply[], now: Date): Promise<PreparedReports> {
  await claimPendingReferences(
    tx,
    items.flatMap((i) =>
      i.report.operationId ? [{ sourceId: i.sourceId, operationId: i.report.operationId, pspReference: i.report.pspReference }] : [],
    ),
  );
  const keyOf = (i: ReportToApply): string => `${i.sourceId}\u0000${i.report.pspReference}`;
  const groups = new Map<string, number[]>();
  for (const [n, item] of items.entries()) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), n]);
  const keys = [...groups.keys()].sort();
  const locked = await lockOrCreatePayments(
    tx,
    keys.map((k) => {
      const first = items[groups.get(k)![0]!]!;
      return {
        merchantId: first.merchantId,
        sourceId: first.sourceId,
        pspReference: first.report.pspReference,
        currency: first.report.currency,
        amount: first.report.amount ?? new Decimal(0),
        merchantReference: first.report.merchantReference ?? null,
        now,
      };
    }),
  );

  const prepared: PreparedReports = {
    results: new Array<ApplyResult>(items.length),
    saves: { payments: [], operations: [], transitions: [] },
    events: [],
    settlements: [],
    postings: new Map(),
  };
  const { results, saves } = prepared;
  keys.forEach((k, g) => {
    const lockedAt = locked[g]!.payment;
    let { payment, created } = locked[g]!;
    let changed = false;
    for (const n of groups.get(k)!) {
      const { report, cause, merchantId, sourceId } = items[n]!;
      if (payment.currency !== report.currency) {
        results[n] = {
          result: 'currency_mismatch',
          payment,
          reason: `event currency ${report.currency} differs from payment currency ${payment.currency}`,
        };
        continue;
      }
      const outcome = next(payment, report, payment.pspReference);
      const stale = outcome.stale && !created;
      // a stale report that adds facts (an operation report, a larger total) is saved too
      if (created || !outcome.stale || outcome.factsChanged) {
        changed = true;
        const touch = created || !outcome.stale;
        const steps = [...(created ? [{ from: null, to: 'pending' as const }] : []), ...outcome.steps];
        for (const st of steps) saves.transitions.push({ paymentId: payment.id, ...st, cause, at: now });
        for (const o of outcome.newOperations) saves.operations.push({ paymentId: payment.id, report: o, cause, at: now });
        payment = {
          ...payment,
          ...outcome.state,
          merchantReference: payment.merchantReference ?? report.merchantReference ?? null,
          version: lockedAt.version + 1,
          updatedAt: touch ? now : payment.updatedAt,
          operations: [...payment.operations, ...outcome.newOperations.map((o) => ({ ...o, cause, at: now }))],
        };
      }
      let events = 0;
      if (!stale) {
        const data = paymentView(payment);
        for (const type of outcome.events) {
          prepared.events.push({ merchantId, type, paymentId: payment.id, dedupeKey: `${cause}:${type}`, data, at: now });
          events += 1;
        }
      }
      const op = report.operation;
      if (op && (op.outcome === 'succeeded' || op.outcome === 'failed')) {
        prepared.settlements.push({ sourceId, reference: op.reference, outcome: op.outcome });
      }
      const list = prepared.postings.get(merchantId) ?? [];
      for (const p of outcome.postings) list.push({ paymentId: payment.id, cause, kind: p.kind, entries: journalFor(p, payment.currency) });
      prepared.postings.set(merchantId, list);
      results[n] = { result: stale ? 'stale' : 'applied', payment, created, outcome, events };
      created = false;
    }
    if (changed) {
      saves.payments.push({
        id: payment.id,
        version: lockedAt.version,
        state: payment,
        merchantReference: payment.merchantReference,
        updatedAt: payment.updatedAt,
      });
    }
  });
  return prepared;
}

/**
 * Second half: saves payments, operation reports and transitions (one statement), emits the events (dedupe key
 * `<cause>:<type>`) and settles the API operations a report finished, sent at once and awaited together; then posts
 * ledger transactions per merchant, last, so a merchant's shared account rows stay locked only for the posting and the
 * commit (emitting takes three round trips, and a posting sent beside them held the rows through all three, which
 * another transaction of the same merchant, even its `insert … on conflict do nothing` of the accounts, waits on).
 * With `handoff`, the events' first attempts are handed to the caller (outbox.ts {@link FirstAttemptHandoff}).
 */
export async function writePaymentReports(tx: Tx, prepared: PreparedReports, handoff?: FirstAttemptHandoff): Promise<void> {
  await Promise.all([
    savePaymentOutcomes(tx, prepared.saves),
    emitEvents(tx, prepared.events, handoff),
    settleOperationsByWebhook(tx, prepared.settlements),
  ]);
  await Promise.all(
    [...prepared.postings.keys()].sort().map((merchantId) => postTransactions(tx, merchantId, prepared.postings.get(merchantId)!)),
  );
}
