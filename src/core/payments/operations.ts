// How the payments API records a PSP's answer: through a webhook's apply (apply-event.ts), so the answer and the later
// webhook land on one state machine and the cumulative totals make the second a no-op.
import type { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { applyPaymentReports } from './apply-event.js';
import { lockOrCreatePayments, savePaymentOutcomes, type Payment } from './payment-store.js';
import type { PaymentEvent } from './state-machine.js';

/** The provisional PSP reference of a payment whose create call has no answer yet. */
export const pendingReference = (operationId: string): string => `pending:${operationId}`;

/** True when the payment's PSP reference is still provisional. */
export const hasPendingReference = (p: Payment): boolean => p.pspReference.startsWith('pending:');

/**
 * Locks (or creates, `pending`) the payment for (source, PSP reference) and applies `event` (null: only ensure it exists)
 * as a webhook is, with `cause` (the operation id) on all it writes; a duplicate or stale event changes nothing visible.
 * Returns the payment as saved. Throws on database errors, and an Error for a payment in another currency (a bug).
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
    const [locked] = await lockOrCreatePayments(tx, [
      {
        merchantId: input.merchantId,
        sourceId: input.sourceId,
        pspReference: input.pspReference,
        currency: input.currency,
        amount: input.amount,
        merchantReference: input.merchantReference,
        now: input.now,
      },
    ]);
    const { payment, created } = locked!;
    if (!created) return payment;
    // only the `null → pending` transition of a payment seen for the first time, with its cause
    const saved: Payment = { ...payment, version: payment.version + 1, updatedAt: input.now };
    await savePaymentOutcomes(tx, {
      payments: [
        { id: payment.id, version: payment.version, state: payment, merchantReference: payment.merchantReference, updatedAt: input.now },
      ],
      operations: [],
      transitions: [{ paymentId: payment.id, from: null, to: 'pending', cause: input.cause, at: input.now }],
    });
    return saved;
  }
  const [applied] = await applyPaymentReports(
    tx,
    [
      {
        merchantId: input.merchantId,
        sourceId: input.sourceId,
        cause: input.cause,
        report: {
          ...input.event,
          amount: input.event.amount ?? input.amount,
          pspReference: input.pspReference,
          currency: input.currency,
          ...(input.merchantReference === null ? {} : { merchantReference: input.merchantReference }),
        },
      },
    ],
    input.now,
  );
  if (applied!.result === 'currency_mismatch') throw new Error(applied!.reason);
  return applied!.payment;
}
