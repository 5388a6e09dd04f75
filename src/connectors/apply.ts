/**
 * The ONE place where the payments API touches the payments core (src/core/payments,
 * src/core/ledger, src/outbound/messages): a PSP's API answer is applied exactly as
 * src/inbound/process-event.task.ts applies a webhook (lock or create the payment by
 * (source, PSP reference) → state machine → transitions → save → merchant events →
 * ledger), so the answer and the later webhook land on the same state machine and the
 * cumulative totals make the second one a no-op. Re-point these functions when the
 * operations model (captures and refunds as rows) lands.
 */
import type { Decimal } from 'decimal.js';
import type { Tx } from '../core/db/client.js';
import { applyPaymentReport } from '../core/payments/apply-event.js';
import { getPayment, lockOrCreatePayment, paymentView, savePaymentOutcome, type Payment } from '../core/payments/payment-store.js';
import type { PaymentEvent } from '../core/payments/state-machine.js';

export { getPayment, paymentView, type Payment };

/** The provisional PSP reference of a payment whose create call has no answer yet. */
export const pendingReference = (operationId: string): string => `pending:${operationId}`;

/** True when the payment's PSP reference is still provisional. */
export const hasPendingReference = (p: Payment): boolean => p.pspReference.startsWith('pending:');

/**
 * Locks (or creates, `pending`) the payment for (source, PSP reference) and applies `event`
 * (null: only make sure the payment exists) through the payments core's
 * `applyPaymentReport` (src/core/payments/apply-event.ts), exactly as a webhook is applied,
 * with `cause` (the operation id) on its operation rows, transitions, merchant events
 * (`dedupeKey` `<cause>:<type>`) and ledger transactions. A duplicate or stale event
 * changes nothing visible. Returns the payment as saved. Throws on database errors, and an
 * Error when the payment exists in another currency (a connector bug: the API checks it).
 */
export async function applyPspEvent(
  tx: Tx,
  input: {
    merchantId: string;
    sourceId: string;
    pspReference: string;
    currency: string;
    amount: Decimal;
    merchantReference: string | null;
    event: PaymentEvent | null;
    cause: string;
    now: Date;
  },
): Promise<Payment> {
  if (!input.event) {
    const { payment, created } = await lockOrCreatePayment(tx, {
      merchantId: input.merchantId,
      sourceId: input.sourceId,
      pspReference: input.pspReference,
      currency: input.currency,
      amount: input.amount,
      merchantReference: input.merchantReference,
      now: input.now,
    });
    if (!created) return payment;
    // only the `null → pending` transition of a payment seen for the first time, with its cause
    return savePaymentOutcome(tx, payment, {
      outcome: { state: payment, steps: [], postings: [], newOperations: [], events: [], stale: true, factsChanged: false },
      created: true,
      cause: input.cause,
      merchantReference: input.merchantReference,
      now: input.now,
      touch: true,
    });
  }
  const applied = await applyPaymentReport(tx, {
    merchantId: input.merchantId,
    sourceId: input.sourceId,
    cause: input.cause,
    now: input.now,
    report: {
      ...input.event,
      amount: input.event.amount ?? input.amount,
      pspReference: input.pspReference,
      currency: input.currency,
      ...(input.merchantReference === null ? {} : { merchantReference: input.merchantReference }),
    },
  });
  if (applied.result === 'currency_mismatch') throw new Error(applied.reason);
  return applied.payment;
}

/**
 * Gives a payment created with a provisional reference ({@link pendingReference}) its real
 * PSP reference, so the webhooks that name it find it. Returns false when the payment
 * already has a real reference (nothing changed). The 0011 trigger refuses to let a
 * webhook create a second payment for this reference while the operation is unresolved.
 */
export async function resolvePendingReference(tx: Tx, paymentId: string, pspReference: string): Promise<boolean> {
  const rows = await tx`
    update gw.payments
       set psp_reference = ${pspReference}
     where id = ${paymentId} and psp_reference like 'pending:%'
    returning id`;
  return rows.length > 0;
}

/** The merchant's payment locked `for update`, or undefined. */
export async function lockPayment(tx: Tx, merchantId: string, id: string): Promise<Payment | undefined> {
  const [row] = await tx<{ id: string }[]>`select id from gw.payments where id = ${id} and merchant_id = ${merchantId} for update`;
  return row ? getPayment(tx, merchantId, row.id) : undefined;
}
