// What a payment is made of (operation reports, PSP floors) and the status and amounts derived from it. Pure: no I/O.
import { Decimal } from 'decimal.js';

/** A payment's status (docs/architecture.md "Payment states"). */
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
 * How an operation ended, as its PSP reported it: money operations `pending` → `succeeded` → `failed` (a failure after
 * success is a reversal: Adyen CAPTURE_FAILED, a failed Stripe refund); disputes `open` → `won` | `lost` → `reversed`.
 */
export type OperationOutcome = 'pending' | 'succeeded' | 'failed' | 'open' | 'won' | 'lost' | 'reversed';

/** An operation's outcome is its highest-ranked report, whatever the arrival order (a late `succeeded` never undoes `failed`). */
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
 * One report of one operation (a `gw.payment_operations` row). `reference`: the operation's own PSP reference (Stripe
 * `re_…`/`dp_…`, Adyen modification pspReference; the payment's for authorization and void). Minor units, or null.
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

/** A payment's state: what it is made of (amount, PSP cumulative floors, operation reports) and what derives from it; minor units. */
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
  ops.filter((o) => o.kind === kind && outcomes.includes(o.outcome)).reduce((acc, o) => acc.plus(o.amount ?? ZERO), ZERO);

/**
 * Derives status and amounts from the final set of reports and floors only, which makes processing order-independent:
 * - captured gross = max(reported cumulative, Σ captures succeeded|failed) − Σ captures failed; refunded gross likewise;
 * - captured = captured gross once any capture is known, else min(refunded gross, reported amount, or all if unknown);
 * - refunded = min(refunded gross, captured); the rest is the over-refund, flagged, never posted;
 * - charged back = min(Σ disputes lost (amount, else all that is left), captured − refunded);
 * - status: open dispute → disputed; charged back → charged_back; captured → captured / partially_refunded / refunded;
 *   else voided, failed, authorized, pending, in that precedence (captured money wins over a later failure or void).
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
  // Before any capture is known, a refund implies its capture (it arrived first); after, excess refunds are over-refunds.
  const capturesKnown =
    base.reportedCaptured.greaterThan(0) || ops.some((o) => o.kind === 'capture' && (o.outcome === 'succeeded' || o.outcome === 'failed'));
  const bound = base.reportedAmount.greaterThan(0) ? base.reportedAmount : refundedGross;
  const captured = capturesKnown ? capturedGross : Decimal.min(refundedGross, bound);
  const refunded = Decimal.min(refundedGross, captured);
  const left = captured.minus(refunded);
  const lost = ops.filter((o) => o.kind === 'dispute' && o.outcome === 'lost').reduce((acc, o) => acc.plus(o.amount ?? left), ZERO);
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
