import { toJsonAmount } from '../core/money.js';
import type { Payment } from '../core/payments/payment-store.js';
import { paymentView } from '../core/payments/payment-view.js';
import type { PspOperation } from '../core/payments/operation-store.js';

/** The JSON answer of a command: the payment as GET returns it, plus the operation (amount in minor units). */
export function commandView(payment: Payment, op: PspOperation): Record<string, unknown> {
  return {
    ...paymentView(payment),
    operation: {
      id: op.id,
      kind: op.kind,
      status: op.status,
      amount: op.amount === null ? null : toJsonAmount(op.amount),
      failureCode: op.failureCode,
      failureMessage: op.failureMessage,
    },
  };
}
