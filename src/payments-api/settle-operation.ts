import { Decimal } from 'decimal.js';
import { announceApiReviews } from '../core/risk/assess.js';
import { scheduleCompensationRetry } from './compensation-retry.js';
import type { Tx } from '../core/db/client.js';
import type { Deps } from '../core/deps.js';
import { applyPspEvent, hasPendingReference, pendingReference } from '../core/payments/operations.js';
import { getPayment, resolvePendingReference, type Payment } from '../core/payments/payment-store.js';
import { enqueueOperationSync } from '../core/jobs/enqueue.js';
import {
  getOperation,
  succeededRefundTotal,
  updateOperation,
  type OperationStatus,
  type PspOperation,
} from '../core/payments/operation-store.js';
import type { CreatePaymentInput, PaymentCommandOptions } from './commands.js';
import type { PspResult } from './connectors/types.js';

/**
 * What settling an operation produced: the payment and the operation as saved, or a refusal
 * (`code` is the PSP's, or `url_not_allowed` when the call was never sent).
 */
export type Settled = { kind: 'settled'; payment: Payment; op: PspOperation } | { kind: 'rejected'; code: string; message: string };

/**
 * Applies a PSP result to an operation (locked by the caller) and its payment, in `tx`:
 * - `unknown`: the operation becomes `pending` (a create gets a payment with a provisional
 *   reference, status `pending`) and a status sync is queued unless `sync` (the sync itself
 *   is calling); never a failure;
 * - `rejected`: the operation `failed`; a payment created while pending is failed too;
 * - `answered`: the answer's event is applied to the payment by (source, PSP reference), as a
 *   webhook would be (a refund's event carries the cumulative total of succeeded refunds),
 *   and the operation takes the answer's outcome.
 */
export async function settleOperation(
  deps: Deps,
  tx: Tx,
  op: PspOperation,
  result: PspResult,
  options: PaymentCommandOptions,
  sync = false,
): Promise<Settled> {
  const now = deps.clock();
  const createInput = op.kind === 'create' ? (op.request as unknown as CreatePaymentInput) : undefined;
  const existing = op.paymentId ? await getPayment(tx, op.merchantId, op.paymentId) : undefined;
  const base = {
    merchantId: op.merchantId,
    sourceId: op.sourceId,
    currency: op.currency,
    amount: existing?.amount ?? op.amount ?? new Decimal(0),
    merchantReference: createInput?.merchantReference ?? existing?.merchantReference ?? null,
    cause: op.id,
    now,
  };
  const reload = async (status: OperationStatus, paymentId: string | null) => {
    const fresh = (await getOperation(tx, op.id))!;
    return { ...fresh, status, paymentId };
  };

  if (result.kind === 'unknown') {
    let payment = existing;
    if (!payment) payment = await applyPspEvent(tx, { ...base, pspReference: pendingReference(op.id), event: null });
    await updateOperation(tx, op.id, { status: 'pending', paymentId: payment.id, syncAttempted: sync, now });
    if (op.kind === 'create' && !op.paymentId) await announceApiReviews(tx, op.id, payment.id);
    if (!sync) await enqueueOperationSync(tx, op.id, new Date(now.getTime() + (options.syncDelaySeconds ?? 30) * 1000));
    return { kind: 'settled', payment, op: await reload('pending', payment.id) };
  }

  if (result.kind === 'rejected') {
    await updateOperation(tx, op.id, { status: 'failed', failure: { code: result.code, message: result.message }, now });
    // a rejected review's refund or void must happen: sent again later (compensation.task.ts)
    if (op.kind === 'refund' || op.kind === 'void') await scheduleCompensationRetry(deps, tx, op);
    if (existing && op.kind === 'create' && hasPendingReference(existing)) {
      await applyPspEvent(tx, { ...base, pspReference: existing.pspReference, event: { kind: 'failed' } });
    }
    return { kind: 'rejected', code: result.code, message: result.message };
  }

  const pspReference = result.pspReference || existing?.pspReference || pendingReference(op.id);
  if (existing && hasPendingReference(existing) && !pspReference.startsWith('pending:')) {
    await resolvePendingReference(tx, existing.id, pspReference);
  }
  // Claim the reference before the payment row is created, so the 0011 trigger lets it in.
  await updateOperation(tx, op.id, {
    status: result.outcome,
    pspReference,
    operationReference: result.operationReference ?? null,
    failure: result.failure ?? null,
    now,
  });
  let event = result.event ?? null;
  if (op.kind === 'refund' && result.outcome === 'succeeded' && existing) {
    event = {
      kind: 'refunded',
      capturedTotal: existing.capturedAmount,
      refundedTotal: await succeededRefundTotal(tx, existing.id),
      // the refund's own PSP id (`re_…`) on the payment's operations, as its webhook records it: reconciliation matches by it
      ...(result.operationReference
        ? {
            operation: {
              kind: 'refund' as const,
              reference: result.operationReference,
              outcome: 'succeeded' as const,
              ...(op.amount ? { amount: op.amount } : {}),
            },
          }
        : {}),
    };
  }
  const payment = await applyPspEvent(tx, { ...base, pspReference, event });
  await updateOperation(tx, op.id, { status: result.outcome, paymentId: payment.id, now });
  if (op.kind === 'create' && !op.paymentId) await announceApiReviews(tx, op.id, payment.id);
  return { kind: 'settled', payment, op: await reload(result.outcome, payment.id) };
}
