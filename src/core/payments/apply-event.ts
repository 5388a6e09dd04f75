// Applies what a PSP (or the merchant API) reported about a payment, in the caller's
// transaction: lock the payment → next() → save state, operation reports and transitions →
// merchant-facing events → ledger postings. src/inbound/process-event.task.ts calls it for
// every inbound event; the merchant payments API calls it to record an operation it started.
import { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { journalFor } from '../ledger/journal.js';
import { postTransactions } from '../ledger/ledger-store.js';
import { emitEvent, emitEvents } from '../events/outbox.js';
import {
  lockOrCreatePayment,
  lockOrCreatePayments,
  savePaymentOutcome,
  savePaymentOutcomes,
  type Payment,
} from './payment-store.js';
import { paymentView } from './payment-view.js';
import { next, type Outcome, type PaymentEvent } from './state-machine.js';

/**
 * A report about one payment, PSP-neutral: which payment (the PSP's reference for it, e.g.
 * the Stripe PaymentIntent id or the Adyen authorisation pspReference), its currency (ISO
 * 4217, upper case), and what happened ({@link PaymentEvent}; amounts in minor units).
 */
export interface PaymentReport extends PaymentEvent {
  pspReference: string;
  currency: string;
  merchantReference?: string;
  /**
   * The payments API operation that created the payment, when the PSP echoes it back (the
   * `switchyard_op` metadata Switchyard set on the PSP's payment): the payment may
   * still be stored under the provisional reference `pending:<operation id>` (its creation
   * call timed out), and is then linked to `pspReference` before the report is applied
   * (src/connectors/apply.ts claimPendingReferences).
   */
  operationId?: string;
}

/** What {@link applyPaymentReport} did. */
export type ApplyResult =
  | { result: 'applied' | 'stale'; payment: Payment; created: boolean; outcome: Outcome; events: number }
  | { result: 'currency_mismatch'; payment: Payment; reason: string };

/**
 * Applies a report to its payment inside the caller's transaction `tx`:
 *
 * 1. locks (or creates, `pending`) the payment for (`sourceId`, `report.pspReference`);
 * 2. refuses a report in another currency than the payment's (`currency_mismatch`, nothing written);
 * 3. computes `next(state, report)`; saves the new state, the report's operation row and one
 *    transition row per status move, all with `cause`, in one statement;
 * 4. unless the report is stale, emits the merchant-facing events (dedupe key
 *    `${cause}:${type}`) with one delivery per subscribed endpoint;
 * 5. calls `beforePosting` (the task marks its inbound event there), then posts the ledger
 *    transactions, one per (payment, cause, kind), all in one call, last, so the merchant's
 *    shared account rows stay locked only for the posting and the commit.
 *
 * `cause` identifies the report: the inbound event id, or for the merchant API a stable id
 * of the request (e.g. `api:<idempotency key>`), so that replaying it posts nothing twice.
 * Throws only on database errors.
 *
 * @example
 * // the merchant API asked the PSP to capture 500 and got reference "cap_123", pending:
 * await applyPaymentReport(tx, { merchantId, sourceId, cause: 'api:idem_abc', now,
 *   report: { pspReference: 'pi_1', currency: 'USD', kind: 'captured',
 *             operation: { kind: 'capture', reference: 'cap_123', outcome: 'pending', amount: new Decimal(500) } } });
 */
export async function applyPaymentReport(
  tx: Tx,
  input: {
    merchantId: string;
    sourceId: string;
    report: PaymentReport;
    cause: string;
    now: Date;
    beforePosting?: (paymentId: string, result: 'applied' | 'stale') => Promise<void>;
  },
): Promise<ApplyResult> {
  const { report, cause, now } = input;
  const { payment, created } = await lockOrCreatePayment(tx, {
    merchantId: input.merchantId,
    sourceId: input.sourceId,
    pspReference: report.pspReference,
    currency: report.currency,
    amount: report.amount ?? new Decimal(0),
    merchantReference: report.merchantReference ?? null,
    now,
  });
  if (payment.currency !== report.currency) {
    return { result: 'currency_mismatch', payment, reason: `event currency ${report.currency} differs from payment currency ${payment.currency}` };
  }

  const outcome = next(payment, report, payment.pspReference);
  const stale = outcome.stale && !created;
  let saved = payment;
  if (created || !outcome.stale || outcome.factsChanged) {
    saved = await savePaymentOutcome(tx, payment, {
      outcome,
      created,
      cause,
      merchantReference: report.merchantReference ?? null,
      now,
      touch: created || !outcome.stale,
    });
  }
  let events = 0;
  if (!stale) {
    const data = paymentView(saved);
    for (const type of outcome.events) {
      await emitEvent(tx, { merchantId: input.merchantId, type, paymentId: saved.id, dedupeKey: `${cause}:${type}`, data, at: now });
      events += 1;
    }
  }
  await input.beforePosting?.(saved.id, stale ? 'stale' : 'applied');
  await postTransactions(
    tx,
    input.merchantId,
    outcome.postings.map((p) => ({ paymentId: saved.id, cause, kind: p.kind, entries: journalFor(p, saved.currency) })),
  );
  return { result: stale ? 'stale' : 'applied', payment: saved, created, outcome, events };
}

/** One report of a batch for {@link applyPaymentReports}. */
export interface BatchItem {
  merchantId: string;
  sourceId: string;
  report: PaymentReport;
  /** Unique per item: the inbound event id. */
  cause: string;
}

/**
 * Applies many reports in the caller's transaction with few round trips, with the same
 * effects as {@link applyPaymentReport} on each in turn:
 *
 * - payments are created and locked once each, in two statements ({@link lockOrCreatePayments}),
 *   in (source, PSP reference) order, so two batches that share payments cannot deadlock;
 * - each payment's reports are applied in memory in the order given (`next()` is pure);
 * - the saves (each payment's final state, every operation row and transition) go in one
 *   statement ({@link savePaymentOutcomes}), the merchant-facing events pipelined after it on
 *   the transaction's connection, without waiting for each answer;
 * - `beforePosting` runs with every item's result (the task marks its inbound events there);
 *   its queries are sent after the saves and events, before the postings;
 * - all ledger transactions of one merchant are posted in one `gw.post_transactions` call,
 *   last, locking each account once in id order.
 *
 * Everything after the locks is sent pipelined and awaited together: one round trip.
 *
 * Returns one result per item, in input order. Throws only on database errors (the whole
 * batch then rolls back: retry the items one by one to isolate a poison one).
 */
export async function applyPaymentReports(
  tx: Tx,
  items: BatchItem[],
  now: Date,
  beforePosting?: (results: ApplyResult[]) => Promise<void>,
): Promise<ApplyResult[]> {
  const keyOf = (i: BatchItem): string => `${i.sourceId}\u0000${i.report.pspReference}`;
  const groups = new Map<string, number[]>();
  items.forEach((item, n) => groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), n]));
  const keys = [...groups.keys()].sort();
  const inputs = keys.map((k) => {
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
  });
  // one payment: select first (one round trip when it exists); several: two statements in key order
  const locked = inputs.length === 1 ? [await lockOrCreatePayment(tx, inputs[0]!)] : await lockOrCreatePayments(tx, inputs);

  const results: ApplyResult[] = new Array(items.length);
  const emits: Parameters<typeof emitEvent>[1][] = [];
  const saves: Parameters<typeof savePaymentOutcomes>[1] = { payments: [], operations: [], transitions: [] };
  const postings = new Map<string, { paymentId: string; cause: string; kind: string; entries: ReturnType<typeof journalFor> }[]>();
  keys.forEach((k, g) => {
    const lockedAt = locked[g]!.payment;
    let { payment, created } = locked[g]!;
    let changed = false;
    for (const n of groups.get(k)!) {
      const { report, cause, merchantId } = items[n]!;
      if (payment.currency !== report.currency) {
        results[n] = { result: 'currency_mismatch', payment, reason: `event currency ${report.currency} differs from payment currency ${payment.currency}` };
        continue;
      }
      const outcome = next(payment, report, payment.pspReference);
      const stale = outcome.stale && !created;
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
          emits.push({ merchantId, type, paymentId: payment.id, dedupeKey: `${cause}:${type}`, data, at: now });
          events += 1;
        }
      }
      const list = postings.get(merchantId) ?? [];
      for (const p of outcome.postings) list.push({ paymentId: payment.id, cause, kind: p.kind, entries: journalFor(p, payment.currency) });
      postings.set(merchantId, list);
      results[n] = { result: stale ? 'stale' : 'applied', payment, created, outcome, events };
      created = false;
    }
    if (changed) {
      saves.payments.push({ id: payment.id, version: lockedAt.version, state: payment, merchantReference: payment.merchantReference, updatedAt: payment.updatedAt });
    }
  });
  // the saves first, then the events, pipelined on the transaction's connection
  const writes: Promise<unknown>[] = [savePaymentOutcomes(tx, saves), emitEvents(tx, emits)];
  // then the caller's marks and the postings (accounts locked last, per merchant in a fixed
  // order): all sent without waiting, so the whole batch costs one more round trip
  if (beforePosting) writes.push(beforePosting(results));
  for (const merchantId of [...postings.keys()].sort()) writes.push(postTransactions(tx, merchantId, postings.get(merchantId)!));
  await Promise.all(writes);
  return results;
}
