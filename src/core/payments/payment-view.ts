// How the API and merchant-facing events show a payment (docs/http-api.md "Payments").
import { Decimal } from 'decimal.js';
import { toJsonAmount } from '../money.js';
import { foldOperations, OUTCOME_RANK, type OperationKind, type OperationOutcome } from './payment-state.js';
import type { Payment } from './payment-store.js';

/** An operation as the API shows it: reports folded, each kept in `history`; a refund beyond the captured amount is `flagged`. */
interface OperationView {
  kind: OperationKind;
  pspReference: string;
  amount: number | null;
  outcome: OperationOutcome | 'flagged';
  flagReason: string | null;
  history: { outcome: OperationOutcome; amount: number | null; cause: string; at: string }[];
}

/** A payment's operations for the API, in first-reported order; succeeded refunds beyond the posted refunded amount are flagged. */
export function operationsView(p: Payment): OperationView[] {
  const folded = foldOperations(p.operations);
  let refundedSoFar = new Decimal(0);
  return folded.map((op) => {
    const rows = p.operations.filter((r) => r.kind === op.kind && r.reference === op.reference);
    rows.sort((a, b) => OUTCOME_RANK[a.outcome] - OUTCOME_RANK[b.outcome]);
    let outcome: OperationView['outcome'] = op.outcome;
    let flagReason: string | null = null;
    if (op.kind === 'refund' && op.outcome === 'succeeded' && p.overRefundedAmount.greaterThan(0)) {
      refundedSoFar = refundedSoFar.plus(op.amount ?? 0);
      if (refundedSoFar.greaterThan(p.refundedAmount)) {
        outcome = 'flagged';
        flagReason = `over_refund: refunds reported beyond the captured amount by ${p.overRefundedAmount.toString()} minor units; the excess is not posted`;
      }
    }
    return {
      kind: op.kind,
      pspReference: op.reference,
      amount: op.amount === null ? null : toJsonAmount(op.amount),
      outcome,
      flagReason,
      history: rows.map((r) => ({
        outcome: r.outcome,
        amount: r.amount === null ? null : toJsonAmount(r.amount),
        cause: r.cause,
        at: r.at.toISOString(),
      })),
    };
  });
}

/**
 * The payment as `GET /v1/payments/{id}` returns it and merchant events carry it as `data` (docs/http-api.md "Payments"), plus
 * `chargedBackAmount`, `overRefundedAmount`, `flags` (`["over_refund"]`) and {@link operationsView}; minor units.
 */
export function paymentView(p: Payment): Record<string, unknown> {
  return {
    id: p.id,
    sourceId: p.sourceId,
    pspReference: p.pspReference,
    status: p.status,
    amount: toJsonAmount(p.amount),
    currency: p.currency,
    capturedAmount: toJsonAmount(p.capturedAmount),
    refundedAmount: toJsonAmount(p.refundedAmount),
    chargedBackAmount: toJsonAmount(p.chargedBackAmount),
    overRefundedAmount: toJsonAmount(p.overRefundedAmount),
    flags: p.overRefundedAmount.greaterThan(0) ? ['over_refund'] : [],
    merchantReference: p.merchantReference,
    operations: operationsView(p),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
