// The `check_stuck_payments` cron task (issue #17 item 8, README "Reconcile"): payments left `pending` (a PSP timeout,
// a lost webhook) past their source's settling time are listed, named once to the merchant, and asked of the PSP
// through the connector's status read where there is one.
import type { z } from 'zod';
import type { Deps } from '../core/deps.js';
import type { StuckPaymentMismatchData } from '../core/events/event-data.js';
import { emitEvents } from '../core/events/outbox.js';
import { applyPaymentReports } from '../core/payments/apply-event.js';
import { connectorOptions } from './call-psp.js';
import type { PaymentCommandOptions } from './commands.js';
import { loadSourceCredentials } from './connectors/credentials.js';
import { connectorFor } from './connectors/index.js';
import {
  listAskableStuckPayments,
  recordStuckCheck,
  recordStuckPayments,
  resolveStuckPayments,
  type AskableStuckPayment,
} from './stuck-payment-store.js';

/** Stuck payments asked of the PSP per run, at most: bounds a run; the rest wait for the next. */
const ASK_PER_RUN = 100;
/** A stuck payment is asked again at most this often, ms (it stays listed meanwhile). */
const ASK_AGAIN_AFTER_MS = 15 * 60_000;

/** What one run did. */
export interface StuckPaymentsRun {
  /** Newly found stuck payments (each named once in `reconciliation.mismatch`). */
  found: number;
  /** Stuck payments the PSP was asked about. */
  asked: number;
  /** Stuck payments that left `pending` (by a PSP answer, or a webhook that came late). */
  resolved: number;
}

/**
 * One run at `deps.clock()`: records the payments `pending` longer than their source's `stuckAfterSeconds` (default
 * 3600) and emits one `reconciliation.mismatch` (`result: stuckPayment`) for each new one; asks Stripe for each open
 * one of a source with an apiKey (the PaymentIntent, connectors' `retrieve`) and applies the answer as a PSP report
 * would be; marks those that left `pending` resolved. Adyen documents no payment status read: its stuck payments are
 * listed only. A PSP that does not answer leaves the payment listed, to be asked again. Throws only database errors.
 */
export async function checkStuckPayments(deps: Deps, options: PaymentCommandOptions = {}): Promise<StuckPaymentsRun> {
  const now = deps.clock();
  const found = await deps.sql.begin(async (tx) => {
    const stuck = await recordStuckPayments(tx, now);
    await emitEvents(
      tx,
      stuck.map((s) => ({
        merchantId: s.merchantId,
        type: 'reconciliation.mismatch',
        paymentId: s.paymentId,
        dedupeKey: `reconciliation.mismatch:stuckPayment:${s.paymentId}`,
        data: {
          result: 'stuckPayment',
          sourceId: s.sourceId,
          paymentId: s.paymentId,
          pspReference: s.pspReference,
          expected: { currency: s.currency, gross: Number(s.amount) },
          pendingSince: s.pendingSince.toISOString(),
          detail: s.detail,
        } satisfies z.infer<typeof StuckPaymentMismatchData>,
        at: now,
      })),
    );
    return stuck.length;
  });
  const askable = await listAskableStuckPayments(deps.sql, new Date(now.getTime() - ASK_AGAIN_AFTER_MS), ASK_PER_RUN);
  for (const stuck of askable) await askPsp(deps, stuck, options);
  const resolved = await deps.sql.begin((tx) => resolveStuckPayments(tx, deps.clock()));
  return { found, asked: askable.length, resolved };
}

/** Asks the PSP for one stuck payment and applies what it says (one transaction after the call). */
async function askPsp(deps: Deps, stuck: AskableStuckPayment, options: PaymentCommandOptions): Promise<void> {
  const creds = await loadSourceCredentials(deps.sql, deps.secretBox, stuck.merchantId, stuck.sourceId);
  const now = deps.clock();
  if (!creds.ok) {
    await recordStuckCheck(deps.sql, stuck.paymentId, now, 'not_asked', `not asked: ${creds.error}`);
    return;
  }
  const connector = connectorFor(creds.value, connectorOptions(deps, options));
  if (!connector.retrieve) return;
  const r = await connector.retrieve(stuck.pspReference);
  await deps.sql.begin(async (tx) => {
    if (r.kind === 'unknown') {
      await recordStuckCheck(tx, stuck.paymentId, now, 'unknown', `asked Stripe: no answer (${r.reason}); asked again later`);
      return;
    }
    if (r.kind === 'rejected') {
      await recordStuckCheck(tx, stuck.paymentId, now, 'rejected', `asked Stripe: ${r.code} (${r.message})`);
      return;
    }
    if (!r.event) {
      await recordStuckCheck(
        tx,
        stuck.paymentId,
        now,
        'pending',
        'asked Stripe: still pending there (no payment method, or awaiting action)',
      );
      return;
    }
    await applyPaymentReports(
      tx,
      [
        {
          merchantId: stuck.merchantId,
          sourceId: stuck.sourceId,
          report: { ...r.event, pspReference: stuck.pspReference, currency: stuck.currency },
          cause: `psp-status:${stuck.paymentId}:${now.getTime()}`,
        },
      ],
      now,
    );
    await recordStuckCheck(tx, stuck.paymentId, now, r.event.kind, `asked Stripe: ${r.event.kind}; applied to the payment`);
  });
}
