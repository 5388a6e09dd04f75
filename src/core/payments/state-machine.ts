// The payment state machine: what a PSP event does (`next`), with its status moves, postings and events. Pure: no I/O.
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
 * What a PSP event says, PSP-neutral, minor units: `kind` (a row of {@link EVENT_KINDS}); `amount`, the payment's full
 * amount if given; `capturedTotal`/`refundedTotal`, cumulative totals (Stripe `amount_captured`, `amount_refunded`;
 * Checkout.com balances), of which the largest is kept, so order does not matter; `operation`, one operation's report
 * (Adyen modifications, Stripe refunds and disputes).
 */
export interface PaymentEvent {
  kind: PaymentEventKind;
  amount?: Decimal;
  capturedTotal?: Decimal;
  refundedTotal?: Decimal;
  operation?: { kind: OperationKind; reference: string; outcome: OperationOutcome; amount?: Decimal };
}

/** Event kinds normalizers emit, and the report (on the payment's own reference) each implies when the event names no operation. */
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

/** A ledger movement an event causes (docs/architecture.md "Ledger postings"), minor units. */
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
  /** Merchant-facing event types to emit (docs/architecture.md "Merchant-facing events"). */
  events: string[];
  /** Nothing a merchant sees changed (a duplicate, or a late arrival); a new operation report is still recorded. */
  stale: boolean;
  /** Facts changed (an operation report, a larger amount or total): save them even when stale, so later events see them. */
  factsChanged: boolean;
}

/** The state table: allowed moves and the event each emits (null: a {@link POSTING_EVENTS} event says it); others are bugs. */
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
 * Applies one PSP event to a payment (pure): adds its operation report and totals, derives status and amounts
 * ({@link derivePaymentState}), and returns the status moves (implied ones included), the ledger postings (differences
 * of captured, refunded and charged-back amounts; negative ones reverse) and the events. Any permutation or
 * duplication of the same events ends in the same state and net postings.
 * @example
 * next(initialPaymentState(), { kind: 'captured', capturedTotal: new Decimal(1000) }, 'pi_1'); // captured, posts 1000
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
