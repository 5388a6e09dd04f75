// What a payment is made of (its operation reports and the PSPs' cumulative floors) and
// the status and amounts that derive from it. Pure: no I/O, no clock.
import { Decimal } from 'decimal.js';

/** A payment's status (DESIGN.md "Payment states"). */
export type PaymentStatus =
  | 'pending'
  | 'authorized'
  | 'captured'
  | 'partially_refunded'
  | 'refunded'
  | 'failed'
  | 'voided'
  | 'disputed'
  | 'charged_back';

/** What a payment is made of: one authorization, any number of captures, refunds and disputes, a void. */
export type OperationKind = 'authorization' | 'capture' | 'refund' | 'void' | 'dispute';

/**
 * How an operation ended, as its PSP reported it. Money operations go `pending` →
 * `succeeded` → `failed` (a failure after success is a reversal: Adyen CAPTURE_FAILED,
 * REFUND_FAILED, a Stripe refund that fails); disputes go `open` → `won` | `lost` →
 * `reversed` (a lost dispute whose funds came back: Adyen CHARGEBACK_REVERSED).
 */
export type OperationOutcome = 'pending' | 'succeeded' | 'failed' | 'open' | 'won' | 'lost' | 'reversed';

/**
 * The rank of each outcome: an operation's outcome is the highest-ranked one reported for
 * it, whatever order the reports arrived in (a late `succeeded` never undoes a `failed`).
 */
export const OUTCOME_RANK: Readonly<Record<OperationOutcome, number>> = {
  pending: 0,
  succeeded: 1,
  failed: 2,
  open: 1,
  won: 2,
  lost: 3,
  reversed: 4,
};

/**
 * One report of one operation: a row of `gw.payment_operations`. `reference` is the
 * operation's own PSP reference (Stripe `re_…`/`dp_…`, Adyen modification pspReference;
 * the payment's own reference for its authorization and void). Amount in minor units,
 * null when the PSP did not give one.
 */
export interface OperationReport {
  kind: OperationKind;
  reference: string;
  outcome: OperationOutcome;
  amount: Decimal | null;
}

/** An operation as the payment sees it: its highest-ranked outcome and largest amount. */
interface Operation {
  kind: OperationKind;
  reference: string;
  outcome: OperationOutcome;
  amount: Decimal | null;
}

/**
 * A payment's state: what it is made of (amount, the PSPs' cumulative floors, operation
 * reports) and what derives from it (status and amounts, all minor units).
 */
export interface PaymentState {
  status: PaymentStatus;
  /** The payment's amount: the largest reported, at least what was captured. */
  amount: Decimal;
  /** The largest payment amount a PSP reported (0: none yet). */
  reportedAmount: Decimal;
  /** Net captured: captures that succeeded and were not reversed (or the implied capture of a refund). */
  capturedAmount: Decimal;
  /** Net refunded, at most capturedAmount. */
  refundedAmount: Decimal;
  /** Lost disputes not reversed, at most captured − refunded. */
  chargedBackAmount: Decimal;
  /** Refunds reported beyond what was captured: recorded and flagged, never posted. */
  overRefundedAmount: Decimal;
  /** The largest cumulative captured total a PSP reported. */
  reportedCaptured: Decimal;
  /** The largest cumulative refunded total a PSP reported. */
  reportedRefunded: Decimal;
  /** Every operation report the payment has (one per operation and outcome). */
  operations: OperationReport[];
}

/** A new payment's state: pending, nothing captured, `amount` minor units. */
export function initialPaymentState(amount: Decimal = new Decimal(0)): PaymentState {
  const zero = new Decimal(0);
  return {
    status: 'pending',
    amount,
    reportedAmount: amount,
    capturedAmount: zero,
    refundedAmount: zero,
    chargedBackAmount: zero,
    overRefundedAmount: zero,
    reportedCaptured: zero,
    reportedRefunded: zero,
    operations: [],
  };
}

/** A payment's operations: its reports folded per (kind, reference) by {@link OUTCOME_RANK}. */
export function foldOperations(reports: readonly OperationReport[]): Operation[] {
  const byKey = new Map<string, Operation>();
  for (const r of reports) {
    const key = `${r.kind}\u0000${r.reference}`;
    const op = byKey.get(key);
    if (!op) {
      byKey.set(key, { ...r });
      continue;
    }
    if (OUTCOME_RANK[r.outcome] > OUTCOME_RANK[op.outcome]) op.outcome = r.outcome;
    if (r.amount && (!op.amount || r.amount.greaterThan(op.amount))) op.amount = r.amount;
  }
  return [...byKey.values()];
}

const ZERO = new Decimal(0);
const sum = (ops: Operation[], kind: OperationKind, outcomes: OperationOutcome[]): Decimal =>
  ops
    .filter((o) => o.kind === kind && outcomes.includes(o.outcome))
    .reduce((acc, o) => acc.plus(o.amount ?? ZERO), ZERO);

/**
 * Derives status and amounts from what a payment is made of. A function of the final set of
 * reports and floors only, which is what makes processing order-independent:
 *
 * - captured gross = max(reported cumulative, Σ captures succeeded or failed) − Σ captures failed
 *   (a failed capture is subtracted whether the floor or its own success counted it);
 * - refunded gross likewise over refunds;
 * - captured = captured gross once any capture is known (a succeeded or failed capture, or a
 *   cumulative total); before that a refund implies its capture: min(refunded gross, the
 *   reported amount, or all of it while no amount is known);
 * - refunded = min(refunded gross, captured); the rest is the over-refund, flagged, never posted;
 * - charged back = min(Σ disputes lost (amount, else all that is left), captured − refunded);
 * - status: an open dispute → disputed; money charged back → charged_back; money captured →
 *   captured / partially_refunded / refunded; else voided, failed, authorized, pending, in that
 *   precedence (money already captured wins over a later failure or void).
 */
export function derivePaymentState(
  base: Pick<PaymentState, 'reportedAmount' | 'reportedCaptured' | 'reportedRefunded' | 'operations'>,
): PaymentState {
  const ops = foldOperations(base.operations);
  const nonNeg = (d: Decimal): Decimal => Decimal.max(d, ZERO);
  const capturedGross = nonNeg(
    Decimal.max(base.reportedCaptured, sum(ops, 'capture', ['succeeded', 'failed'])).minus(sum(ops, 'capture', ['failed'])),
  );
  const refundedGross = nonNeg(
    Decimal.max(base.reportedRefunded, sum(ops, 'refund', ['succeeded', 'failed'])).minus(sum(ops, 'refund', ['failed'])),
  );
  // Until anything is known about captures, a refund implies its capture (it arrived first),
  // up to the payment's amount (all of it while the amount is unknown). Once a capture is
  // known, captured is what the captures say and a refund beyond it is an over-refund.
  const capturesKnown =
    base.reportedCaptured.greaterThan(0) || ops.some((o) => o.kind === 'capture' && (o.outcome === 'succeeded' || o.outcome === 'failed'));
  const bound = base.reportedAmount.greaterThan(0) ? base.reportedAmount : refundedGross;
  const captured = capturesKnown ? capturedGross : Decimal.min(refundedGross, bound);
  const refunded = Decimal.min(refundedGross, captured);
  const left = captured.minus(refunded);
  const lost = ops
    .filter((o) => o.kind === 'dispute' && o.outcome === 'lost')
    .reduce((acc, o) => acc.plus(o.amount ?? left), ZERO);
  const chargedBack = Decimal.min(lost, left);
  const amount = Decimal.max(base.reportedAmount, captured);

  const has = (kind: OperationKind, outcomes: OperationOutcome[]): boolean =>
    ops.some((o) => o.kind === kind && outcomes.includes(o.outcome));
  let status: PaymentStatus;
  if (has('dispute', ['pending', 'open'])) status = 'disputed';
  else if (chargedBack.greaterThan(0)) status = 'charged_back';
  else if (captured.greaterThan(0)) {
    status = refunded.isZero() ? 'captured' : refunded.lessThan(captured) ? 'partially_refunded' : 'refunded';
  } else if (has('void', ['succeeded'])) status = 'voided';
  else if (has('authorization', ['failed'])) status = 'failed';
  else if (
    has('authorization', ['succeeded']) ||
    ops.some((o) => o.kind === 'capture' || o.kind === 'refund' || o.kind === 'dispute') ||
    base.reportedCaptured.greaterThan(0) ||
    base.reportedRefunded.greaterThan(0)
  ) {
    status = 'authorized';
  } else status = 'pending';

  return {
    status,
    amount,
    reportedAmount: base.reportedAmount,
    capturedAmount: captured,
    refundedAmount: refunded,
    chargedBackAmount: chargedBack,
    overRefundedAmount: refundedGross.minus(refunded),
    reportedCaptured: base.reportedCaptured,
    reportedRefunded: base.reportedRefunded,
    operations: base.operations,
  };
}
