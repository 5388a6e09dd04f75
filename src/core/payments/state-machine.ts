// A payment's state machine: what a PSP event does to a payment (`next`), the status moves
// it implies, the ledger postings and the merchant-facing events. Pure: no I/O, no clock.
import { Decimal } from 'decimal.js';
import {
  derivePaymentState,
  type OperationKind,
  type OperationOutcome,
  type OperationReport,
  type PaymentState,
  type PaymentStatus,
} from './payment-state.js';

/**
 * What a PSP event says, PSP-neutral (minor units throughout):
 * - `kind` names it (the rows of {@link EVENT_KINDS});
 * - `amount` is the payment's full amount when the event carries it;
 * - `capturedTotal` / `refundedTotal` are cumulative totals as PSPs that keep them report
 *   them (Stripe `amount_received`, `amount_captured`, `amount_refunded`; Checkout.com
 *   balances): the payment keeps the largest seen, so their order does not matter;
 * - `operation` is one operation's report, for PSPs that send operation-level events
 *   (Adyen modifications with their own pspReference, Stripe refunds and disputes).
 */
export interface PaymentEvent {
  kind: PaymentEventKind;
  amount?: Decimal;
  capturedTotal?: Decimal;
  refundedTotal?: Decimal;
  operation?: { kind: OperationKind; reference: string; outcome: OperationOutcome; amount?: Decimal };
}

/**
 * The event kinds normalizers emit, and the operation report each implies when the event
 * names no operation of its own (the report is then about the payment's own PSP reference,
 * with the event's `amount`). Cumulative kinds (`captured`, `refunded`) report totals instead.
 */
const EVENT_KINDS = {
  authorized: { operation: { kind: 'authorization', outcome: 'succeeded' } },
  failed: { operation: { kind: 'authorization', outcome: 'failed' } },
  voided: { operation: { kind: 'void', outcome: 'succeeded' } },
  captured: { operation: null },
  refunded: { operation: null },
  capture_failed: { operation: { kind: 'capture', outcome: 'failed' } },
  refund_pending: { operation: { kind: 'refund', outcome: 'pending' } },
  refund_failed: { operation: { kind: 'refund', outcome: 'failed' } },
  dispute_opened: { operation: { kind: 'dispute', outcome: 'open' } },
  dispute_won: { operation: { kind: 'dispute', outcome: 'won' } },
  dispute_lost: { operation: { kind: 'dispute', outcome: 'lost' } },
  dispute_reversed: { operation: { kind: 'dispute', outcome: 'reversed' } },
} as const satisfies Record<string, { operation: { kind: OperationKind; outcome: OperationOutcome } | null }>;

/** A normalized event's kind; see {@link EVENT_KINDS}. */
type PaymentEventKind = keyof typeof EVENT_KINDS;

/** A ledger movement an event causes (DESIGN.md "Ledger postings"), minor units. */
export interface Posting {
  kind: 'capture' | 'capture_reversal' | 'refund' | 'refund_reversal' | 'dispute_loss' | 'dispute_loss_reversal';
  amount: Decimal;
}

/** The result of applying one event. */
export interface Outcome {
  state: PaymentState;
  /** Each status move, implied ones included, in order. */
  steps: { from: PaymentStatus; to: PaymentStatus }[];
  postings: Posting[];
  /** Operation reports the event adds (already-known ones left out). */
  newOperations: OperationReport[];
  /** Merchant-facing event types to emit (DESIGN.md "Merchant-facing events"). */
  events: string[];
  /**
   * True when the event changes nothing a merchant sees (status, amounts, flags): a
   * duplicate, or one that arrived after its successors. Its operation report, if new, is
   * still recorded, so the recorded operations do not depend on arrival order.
   */
  stale: boolean;
  /**
   * True when what the payment is made of changed (an operation report, a larger reported
   * amount or total), even if nothing visible did: the caller must save it, or a later
   * event would be derived from less than the in-order run had.
   */
  factsChanged: boolean;
}

/**
 * The state table: for each status, the statuses it may move to and the merchant-facing
 * event the move emits (null: the move is announced by a posting's event instead, see
 * {@link POSTING_EVENTS}). A move not in this table is a bug (the property tests check).
 */
const TRANSITIONS: Readonly<Record<PaymentStatus, Partial<Record<PaymentStatus, string | null>>>> = {
  pending: { authorized: 'payment.authorized', failed: 'payment.failed', voided: 'payment.voided', disputed: 'payment.disputed' },
  authorized: { captured: 'payment.captured', failed: 'payment.failed', voided: 'payment.voided', disputed: 'payment.disputed' },
  captured: {
    partially_refunded: 'payment.partially_refunded',
    refunded: 'payment.refunded',
    disputed: 'payment.disputed',
    authorized: null,
    voided: null,
    failed: null,
  },
  partially_refunded: {
    refunded: 'payment.refunded',
    captured: null,
    disputed: 'payment.disputed',
    authorized: null,
    voided: null,
    failed: null,
  },
  refunded: { partially_refunded: null, captured: null, disputed: 'payment.disputed', authorized: null, voided: null, failed: null },
  failed: { captured: 'payment.captured', voided: 'payment.voided', disputed: 'payment.disputed' },
  voided: { captured: 'payment.captured', disputed: 'payment.disputed' },
  disputed: {
    captured: 'payment.dispute_won',
    partially_refunded: 'payment.dispute_won',
    refunded: 'payment.dispute_won',
    charged_back: 'payment.charged_back',
    authorized: 'payment.dispute_won',
    pending: 'payment.dispute_won',
    voided: 'payment.dispute_won',
    failed: 'payment.dispute_won',
  },
  charged_back: {
    captured: 'payment.dispute_won',
    partially_refunded: 'payment.dispute_won',
    refunded: 'payment.dispute_won',
    disputed: 'payment.disputed',
    // the money under the chargeback went away (a capture failed): the reversing posting says so
    authorized: null,
    pending: null,
    voided: null,
    failed: null,
  },
};

/** The merchant-facing event each posting kind emits when no status move announced it. */
const POSTING_EVENTS: Readonly<Record<Posting['kind'], string | null>> = {
  capture: 'payment.captured',
  capture_reversal: 'payment.capture_failed',
  refund: null, // payment.partially_refunded or payment.refunded, by the resulting amounts
  refund_reversal: 'payment.refund_failed',
  dispute_loss: 'payment.charged_back',
  dispute_loss_reversal: 'payment.dispute_won',
};

/** The operation report an event carries, if any; `pspReference` is the payment's own reference. */
function operationReportOf(event: PaymentEvent, pspReference: string): OperationReport | undefined {
  if (event.operation) {
    return { ...event.operation, amount: event.operation.amount ?? null };
  }
  const implied = EVENT_KINDS[event.kind].operation;
  if (!implied) return undefined;
  return { kind: implied.kind, reference: pspReference, outcome: implied.outcome, amount: event.amount ?? null };
}

const ZERO = new Decimal(0);
const MONEY: ReadonlySet<PaymentStatus> = new Set(['captured', 'partially_refunded', 'refunded', 'disputed', 'charged_back']);

/** The status moves from `from` to `to`, with the implied steps (pending → authorized → captured …). */
function stepsBetween(from: PaymentStatus, to: PaymentStatus, captured: boolean): { from: PaymentStatus; to: PaymentStatus }[] {
  const steps: { from: PaymentStatus; to: PaymentStatus }[] = [];
  let cur = from;
  const go = (s: PaymentStatus): void => {
    if (s !== cur) steps.push({ from: cur, to: s });
    cur = s;
  };
  if (captured && MONEY.has(to) && (cur === 'pending' || cur === 'authorized' || cur === 'failed' || cur === 'voided')) {
    if (cur === 'pending') go('authorized');
    go('captured');
  }
  if (to === 'charged_back' && cur !== 'disputed') go('disputed');
  go(to);
  return steps;
}

/**
 * Applies one PSP event to a payment: `next(state, event)`. Pure: no I/O, no clock.
 *
 * Adds the event's operation report and cumulative totals to what the payment is made of,
 * derives the new status and amounts ({@link derivePaymentState}), and returns the status
 * moves (implied ones included), the ledger postings (the differences of captured, refunded
 * and charged-back amounts: negative differences are reversing postings) and the
 * merchant-facing events. Any permutation or duplication of the same events ends in the
 * same state and the same net postings.
 *
 * @example
 * let s = initialPaymentState();
 * s = next(s, { kind: 'captured', capturedTotal: new Decimal(1000) }, 'pi_1').state; // captured, posts capture 1000
 */
export function next(state: PaymentState, event: PaymentEvent, pspReference = 'payment'): Outcome {
  const report = operationReportOf(event, pspReference);
  const known = (r: OperationReport): boolean =>
    state.operations.some((o) => o.kind === r.kind && o.reference === r.reference && o.outcome === r.outcome);
  const newOperations = report && !known(report) ? [report] : [];
  let capturedTotal = event.capturedTotal;
  // a cumulative `captured` event without a total captures the payment's amount
  if (event.kind === 'captured' && !capturedTotal && !event.operation) capturedTotal = event.amount;
  const derived = derivePaymentState({
    reportedAmount: Decimal.max(state.reportedAmount, event.amount ?? ZERO),
    reportedCaptured: Decimal.max(state.reportedCaptured, capturedTotal ?? ZERO),
    reportedRefunded: Decimal.max(state.reportedRefunded, event.refundedTotal ?? ZERO),
    operations: [...state.operations, ...newOperations],
  });

  const postings: Posting[] = [];
  const delta = (before: Decimal, after: Decimal, up: Posting['kind'], down: Posting['kind']): void => {
    if (after.greaterThan(before)) postings.push({ kind: up, amount: after.minus(before) });
    else if (after.lessThan(before)) postings.push({ kind: down, amount: before.minus(after) });
  };
  delta(state.capturedAmount, derived.capturedAmount, 'capture', 'capture_reversal');
  delta(state.refundedAmount, derived.refundedAmount, 'refund', 'refund_reversal');
  delta(state.chargedBackAmount, derived.chargedBackAmount, 'dispute_loss', 'dispute_loss_reversal');

  const steps = stepsBetween(state.status, derived.status, derived.capturedAmount.greaterThan(0));
  const events: string[] = [];
  const add = (type: string | null | undefined): void => {
    if (type && !events.includes(type)) events.push(type);
  };
  for (const s of steps) add(TRANSITIONS[s.from][s.to]);
  for (const p of postings) {
    if (p.kind === 'refund') {
      add(derived.refundedAmount.equals(derived.capturedAmount) ? 'payment.refunded' : 'payment.partially_refunded');
    } else if (!(p.kind === 'dispute_loss_reversal' && events.includes('payment.dispute_won'))) {
      add(POSTING_EVENTS[p.kind]);
    }
  }
  const same = (a: Decimal, b: Decimal): boolean => a.equals(b);
  const stale =
    steps.length === 0 &&
    postings.length === 0 &&
    same(state.amount, derived.amount) &&
    same(state.overRefundedAmount, derived.overRefundedAmount);
  const factsChanged =
    newOperations.length > 0 ||
    !same(state.reportedAmount, derived.reportedAmount) ||
    !same(state.reportedCaptured, derived.reportedCaptured) ||
    !same(state.reportedRefunded, derived.reportedRefunded);
  return { state: derived, steps, postings, newOperations, events, stale, factsChanged };
}

/** Whether a step is in the state table {@link TRANSITIONS}. */
export function isKnownStep(step: { from: PaymentStatus; to: PaymentStatus }): boolean {
  return step.to in TRANSITIONS[step.from];
}
