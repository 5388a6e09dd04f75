import { Decimal } from 'decimal.js';

/**
 * A payment's status (DESIGN.md "Payment states"). `disputed` and `charged_back` exist in
 * the schema; no event reaches them yet (disputes come with the payments-core work).
 */
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

/**
 * What a PSP event says happened to a payment, PSP-neutral. Amounts are integer minor
 * units. Totals are cumulative, as PSPs report them (Stripe `amount_received`,
 * `amount_refunded`), which is what makes the outcome independent of arrival order:
 * the payment keeps the largest total it has seen and posts only the difference.
 */
export interface PaymentEvent {
  kind: 'authorized' | 'captured' | 'failed' | 'voided' | 'refunded';
  /** The payment's full amount, when the event carries it. */
  amount?: Decimal;
  /** Total captured so far (captured, and refunded events that know it). */
  capturedTotal?: Decimal;
  /**
   * Total refunded so far (refunded events). Normalizers also give `capturedTotal` with it,
   * so a refund that arrives before its capture captures the right amount.
   */
  refundedTotal?: Decimal;
}

/** The state the machine works on: status and amounts in minor units. */
export interface PaymentState {
  status: PaymentStatus;
  amount: Decimal;
  capturedAmount: Decimal;
  refundedAmount: Decimal;
}

/** A ledger movement the event causes, in minor units; DESIGN.md "Ledger postings". */
export interface Posting {
  kind: 'capture' | 'refund';
  amount: Decimal;
}

/** The result of applying one event: the new state, each status step, each posting. */
export interface Outcome {
  state: PaymentState;
  steps: { from: PaymentStatus; to: PaymentStatus }[];
  postings: Posting[];
  /** True when the event changed nothing: a duplicate, or one that arrived after its successor. */
  stale: boolean;
}

/**
 * Which event kinds move a payment out of each status, and to where; anything not listed
 * is stale for that status. Captures and refunds are handled by amount (below), because
 * they may also arrive ahead of the steps they imply.
 */
export const TRANSITIONS: Readonly<Record<PaymentStatus, Partial<Record<'authorized' | 'failed' | 'voided', PaymentStatus>>>> = {
  pending: { authorized: 'authorized', failed: 'failed', voided: 'voided' },
  authorized: { failed: 'failed', voided: 'voided' },
  captured: {},
  partially_refunded: {},
  refunded: {},
  failed: {},
  voided: {},
  disputed: {},
  charged_back: {},
};

/**
 * Applies one PSP event to a payment. Pure: no I/O, no clock.
 *
 * - Statuses only move forward; an event that arrives after its successor is stale.
 * - A capture (or a refund) seen before the authorization applies the implied steps:
 *   a refund before its capture captures first, so the ledger stays whole.
 * - Money already captured wins over a later `failed` or `voided` (the PSP holds the funds),
 *   and a capture after a failed attempt moves the payment to captured (Stripe retries a
 *   PaymentIntent with another payment method after `payment_intent.payment_failed`).
 * - Refunds never exceed the captured amount.
 */
export function applyPaymentEvent(state: PaymentState, event: PaymentEvent): Outcome {
  let { status, amount, capturedAmount, refundedAmount } = state;
  const steps: Outcome['steps'] = [];
  const postings: Posting[] = [];
  const moveTo = (to: PaymentStatus): void => {
    if (to !== status) steps.push({ from: status, to });
    status = to;
  };
  if (event.amount && event.amount.greaterThan(amount)) amount = event.amount;

  const captureUpTo = (target: Decimal): void => {
    if (!target.greaterThan(capturedAmount)) return;
    if (status === 'pending') moveTo('authorized');
    postings.push({ kind: 'capture', amount: target.minus(capturedAmount) });
    capturedAmount = target;
    if (amount.lessThan(capturedAmount)) amount = capturedAmount;
    if (status === 'authorized' || status === 'failed' || status === 'voided') moveTo('captured');
    else if (status === 'refunded') moveTo('partially_refunded');
  };

  switch (event.kind) {
    case 'authorized':
    case 'failed':
    case 'voided': {
      const to = TRANSITIONS[status][event.kind];
      if (to) moveTo(to);
      break;
    }
    case 'captured':
      captureUpTo(event.capturedTotal ?? event.amount ?? capturedAmount);
      break;
    case 'refunded': {
      const refundTarget = Decimal.max(refundedAmount, event.refundedTotal ?? refundedAmount);
      captureUpTo(Decimal.max(capturedAmount, event.capturedTotal ?? capturedAmount, refundTarget));
      if (refundTarget.greaterThan(refundedAmount)) {
        postings.push({ kind: 'refund', amount: refundTarget.minus(refundedAmount) });
        refundedAmount = refundTarget;
        moveTo(refundedAmount.equals(capturedAmount) ? 'refunded' : 'partially_refunded');
      }
      break;
    }
  }
  return {
    state: { status, amount, capturedAmount, refundedAmount },
    steps,
    postings,
    stale: steps.length === 0 && postings.length === 0,
  };
}

/**
 * The merchant-facing event types an outcome emits (DESIGN.md "Merchant-facing events"):
 * one per status step, plus `payment.captured` for a further capture and
 * `payment.partially_refunded` for a further partial refund that kept the status.
 */
export function emittedEventTypes(outcome: Outcome): string[] {
  const types = outcome.steps.map((s) => `payment.${s.to}`);
  if (outcome.postings.some((p) => p.kind === 'capture') && !types.includes('payment.captured')) {
    types.unshift('payment.captured');
  }
  const refundType = `payment.${outcome.state.status}`;
  if (outcome.postings.some((p) => p.kind === 'refund') && !types.includes(refundType)) {
    types.push(refundType);
  }
  return types;
}
