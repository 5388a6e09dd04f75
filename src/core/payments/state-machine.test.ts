import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyPaymentEvent,
  emittedEventTypes,
  TRANSITIONS,
  type Outcome,
  type PaymentEvent,
  type PaymentState,
  type PaymentStatus,
  type Posting,
} from './state-machine.js';

const d = (v: number | string | bigint): Decimal => new Decimal(typeof v === 'bigint' ? v.toString() : v);

const initial = (amount: number | string | bigint = 0): PaymentState => ({
  status: 'pending',
  amount: d(amount),
  capturedAmount: d(0),
  refundedAmount: d(0),
});

/** Postings as plain [kind, amount-string] pairs, so that expectations compare exactly. */
const postingsOf = (o: Outcome): [Posting['kind'], string][] => o.postings.map((p) => [p.kind, p.amount.toString()]);

/** A state as plain strings, so that toEqual compares amounts by value, not by Decimal internals. */
const plain = (s: PaymentState) => ({
  status: s.status,
  amount: s.amount.toString(),
  capturedAmount: s.capturedAmount.toString(),
  refundedAmount: s.refundedAmount.toString(),
});

const sumOf = (postings: Posting[], kind: Posting['kind']): Decimal =>
  postings.filter((p) => p.kind === kind).reduce((acc, p) => acc.plus(p.amount), d(0));

/** Applies events in order; returns each outcome and the final state. */
function run(start: PaymentState, events: PaymentEvent[]): { outcomes: Outcome[]; state: PaymentState } {
  let state = start;
  const outcomes: Outcome[] = [];
  for (const e of events) {
    const o = applyPaymentEvent(state, e);
    outcomes.push(o);
    state = o.state;
  }
  return { outcomes, state };
}

describe('applyPaymentEvent: examples', () => {
  it('walks pending → authorized → captured → partially_refunded → refunded, posting capture 1000, refund 400, refund 600', () => {
    const { outcomes, state } = run(initial(1000), [
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(1000) },
      { kind: 'refunded', refundedTotal: d(400), capturedTotal: d(1000) },
      { kind: 'refunded', refundedTotal: d(1000), capturedTotal: d(1000) },
    ]);
    expect(outcomes.map((o) => o.steps)).toEqual([
      [{ from: 'pending', to: 'authorized' }],
      [{ from: 'authorized', to: 'captured' }],
      [{ from: 'captured', to: 'partially_refunded' }],
      [{ from: 'partially_refunded', to: 'refunded' }],
    ]);
    expect(outcomes.map(postingsOf)).toEqual([[], [['capture', '1000']], [['refund', '400']], [['refund', '600']]]);
    expect(outcomes.map((o) => o.stale)).toEqual([false, false, false, false]);
    expect(plain(state)).toEqual({ status: 'refunded', amount: '1000', capturedAmount: '1000', refundedAmount: '1000' });
  });

  it('applies the implied authorization and capture when a full refund arrives on a pending payment', () => {
    const o = applyPaymentEvent(initial(1000), { kind: 'refunded', refundedTotal: d(1000), capturedTotal: d(1000) });
    expect(o.steps).toEqual([
      { from: 'pending', to: 'authorized' },
      { from: 'authorized', to: 'captured' },
      { from: 'captured', to: 'refunded' },
    ]);
    expect(postingsOf(o)).toEqual([
      ['capture', '1000'],
      ['refund', '1000'],
    ]);
    expect(o.stale).toBe(false);
    expect(plain(o.state)).toEqual({ status: 'refunded', amount: '1000', capturedAmount: '1000', refundedAmount: '1000' });
  });

  it('treats a duplicate event as stale: no steps, no postings, the same state', () => {
    const events: PaymentEvent[] = [
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(700) },
      { kind: 'refunded', refundedTotal: d(200), capturedTotal: d(700) },
    ];
    let state = initial(1000);
    for (const e of events) {
      const first = applyPaymentEvent(state, e);
      expect(first.stale).toBe(false);
      const again = applyPaymentEvent(first.state, e);
      expect(again.stale).toBe(true);
      expect(again.steps).toEqual([]);
      expect(again.postings).toEqual([]);
      expect(plain(again.state)).toEqual(plain(first.state));
      state = again.state;
    }
  });

  it('treats payment_failed after the payment succeeded as stale: captured money wins', () => {
    const captured = run(initial(1000), [
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(1000) },
    ]).state;
    const o = applyPaymentEvent(captured, { kind: 'failed' });
    expect(o.stale).toBe(true);
    expect(o.steps).toEqual([]);
    expect(o.postings).toEqual([]);
    expect(plain(o.state)).toEqual(plain(captured));
  });

  it('moves a failed payment to captured when a capture arrives (a retry with another payment method)', () => {
    const failed = applyPaymentEvent(initial(1000), { kind: 'failed' });
    expect(failed.steps).toEqual([{ from: 'pending', to: 'failed' }]);
    const o = applyPaymentEvent(failed.state, { kind: 'captured', capturedTotal: d(1000) });
    expect(o.steps).toEqual([{ from: 'failed', to: 'captured' }]);
    expect(postingsOf(o)).toEqual([['capture', '1000']]);
    expect(plain(o.state)).toEqual({ status: 'captured', amount: '1000', capturedAmount: '1000', refundedAmount: '0' });
  });

  it('treats voided after captured as stale', () => {
    const captured = run(initial(1000), [
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(1000) },
    ]).state;
    const o = applyPaymentEvent(captured, { kind: 'voided' });
    expect(o.stale).toBe(true);
    expect(o.steps).toEqual([]);
    expect(o.postings).toEqual([]);
    expect(plain(o.state)).toEqual(plain(captured));
  });

  it('posts only the difference for a second capture with a larger capturedTotal, and keeps the status', () => {
    const first = run(initial(1000), [
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(300) },
    ]).state;
    expect(first.status).toBe('captured');
    const o = applyPaymentEvent(first, { kind: 'captured', capturedTotal: d(1000) });
    expect(o.steps).toEqual([]);
    expect(postingsOf(o)).toEqual([['capture', '700']]);
    expect(o.stale).toBe(false);
    expect(plain(o.state)).toEqual({ status: 'captured', amount: '1000', capturedAmount: '1000', refundedAmount: '0' });
  });

  it('treats a capture with a smaller capturedTotal than already captured as stale', () => {
    const s = run(initial(1000), [{ kind: 'captured', capturedTotal: d(1000) }]).state;
    const o = applyPaymentEvent(s, { kind: 'captured', capturedTotal: d(400) });
    expect(o.stale).toBe(true);
    expect(plain(o.state)).toEqual(plain(s));
  });

  it('moves a voided payment to captured when a capture arrives (captured money wins over the void)', () => {
    const voided = run(initial(1000), [{ kind: 'authorized', amount: d(1000) }, { kind: 'voided' }]).state;
    expect(voided.status).toBe('voided');
    const o = applyPaymentEvent(voided, { kind: 'captured', capturedTotal: d(1000) });
    expect(o.steps).toEqual([{ from: 'voided', to: 'captured' }]);
    expect(postingsOf(o)).toEqual([['capture', '1000']]);
  });

  it('moves a refunded payment back to partially_refunded when a further capture arrives', () => {
    const refunded = applyPaymentEvent(initial(1000), {
      kind: 'refunded',
      refundedTotal: d(600),
      capturedTotal: d(600),
    }).state;
    expect(refunded.status).toBe('refunded');
    const o = applyPaymentEvent(refunded, { kind: 'captured', capturedTotal: d(1000) });
    expect(o.steps).toEqual([{ from: 'refunded', to: 'partially_refunded' }]);
    expect(postingsOf(o)).toEqual([['capture', '400']]);
  });

  it('lists in TRANSITIONS only the moves out of pending and authorized for authorized, failed and voided events', () => {
    expect(TRANSITIONS.pending).toEqual({ authorized: 'authorized', failed: 'failed', voided: 'voided' });
    expect(TRANSITIONS.authorized).toEqual({ failed: 'failed', voided: 'voided' });
    for (const s of ['captured', 'partially_refunded', 'refunded', 'failed', 'voided', 'disputed', 'charged_back'] as const) {
      expect(TRANSITIONS[s]).toEqual({});
    }
  });
});

describe('emittedEventTypes', () => {
  it('emits one payment.<status> per step, in order', () => {
    const o = applyPaymentEvent(initial(1000), { kind: 'refunded', refundedTotal: d(1000), capturedTotal: d(1000) });
    expect(emittedEventTypes(o)).toEqual(['payment.authorized', 'payment.captured', 'payment.refunded']);
  });

  it('emits payment.captured for a further capture that kept the status', () => {
    const s = run(initial(1000), [{ kind: 'captured', capturedTotal: d(300) }]).state;
    const o = applyPaymentEvent(s, { kind: 'captured', capturedTotal: d(1000) });
    expect(emittedEventTypes(o)).toEqual(['payment.captured']);
  });

  it('emits payment.captured once when the capture is also a step', () => {
    const s = applyPaymentEvent(initial(1000), { kind: 'authorized', amount: d(1000) }).state;
    const o = applyPaymentEvent(s, { kind: 'captured', capturedTotal: d(1000) });
    expect(emittedEventTypes(o)).toEqual(['payment.captured']);
  });

  it('emits payment.captured then payment.partially_refunded when a further capture reopens a refunded payment', () => {
    const refunded = applyPaymentEvent(initial(1000), { kind: 'refunded', refundedTotal: d(600), capturedTotal: d(600) }).state;
    const o = applyPaymentEvent(refunded, { kind: 'captured', capturedTotal: d(1000) });
    expect(emittedEventTypes(o)).toEqual(['payment.captured', 'payment.partially_refunded']);
  });

  it('emits payment.partially_refunded for a further partial refund that keeps the status', () => {
    const partly = applyPaymentEvent(initial(1000), { kind: 'refunded', refundedTotal: d(200), capturedTotal: d(1000) }).state;
    const o = applyPaymentEvent(partly, { kind: 'refunded', refundedTotal: d(500), capturedTotal: d(1000) });
    expect(o.steps).toEqual([]);
    expect(emittedEventTypes(o)).toEqual(['payment.partially_refunded']);
  });

  it('emits payment.failed and payment.voided for those steps', () => {
    expect(emittedEventTypes(applyPaymentEvent(initial(1000), { kind: 'failed' }))).toEqual(['payment.failed']);
    expect(emittedEventTypes(applyPaymentEvent(initial(1000), { kind: 'voided' }))).toEqual(['payment.voided']);
  });

  it('emits nothing for a stale event', () => {
    const s = run(initial(1000), [{ kind: 'captured', capturedTotal: d(1000) }]).state;
    expect(emittedEventTypes(applyPaymentEvent(s, { kind: 'failed' }))).toEqual([]);
    expect(emittedEventTypes(applyPaymentEvent(s, { kind: 'captured', capturedTotal: d(1000) }))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

interface Scenario {
  A: bigint;
  C: bigint;
  R: bigint;
  startAmount: bigint;
  hasAuthorized: boolean;
  /** Events whose final totals are exactly C and R, in canonical (sorted) order. */
  events: PaymentEvent[];
}

const kindRank: Record<PaymentEvent['kind'], number> = { authorized: 0, failed: 1, voided: 1, captured: 2, refunded: 3 };
/** Canonical order: authorization, then captures by ascending total, then refunds by ascending total. */
const canonical = (events: PaymentEvent[]): PaymentEvent[] =>
  [...events].sort(
    (a, b) =>
      kindRank[a.kind] - kindRank[b.kind] ||
      (a.capturedTotal ?? d(0)).comparedTo(b.capturedTotal ?? d(0)) ||
      (a.refundedTotal ?? d(0)).comparedTo(b.refundedTotal ?? d(0)),
  );

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .bigInt({ min: 1n, max: 10n ** 12n })
  .chain((A) => fc.tuple(fc.constant(A), fc.bigInt({ min: 0n, max: A })))
  .chain(([A, C]) => fc.tuple(fc.constant(A), fc.constant(C), fc.bigInt({ min: 0n, max: C })))
  .chain(([A, C, R]) =>
    fc.record({
      A: fc.constant(A),
      C: fc.constant(C),
      R: fc.constant(R),
      startAmount: fc.constantFrom(A, 0n),
      hasAuthorized: fc.boolean(),
      captures: fc.array(fc.bigInt({ min: 0n, max: C }), { maxLength: 4 }),
      refunds: fc.array(fc.bigInt({ min: 0n, max: R }), { maxLength: 4 }),
    }),
  )
  .map(({ A, C, R, startAmount, hasAuthorized, captures, refunds }) => {
    const events: PaymentEvent[] = [];
    if (hasAuthorized) events.push({ kind: 'authorized', amount: d(A) });
    for (const c of [...captures, C]) events.push({ kind: 'captured', capturedTotal: d(c) });
    for (const r of [...refunds, R]) events.push({ kind: 'refunded', refundedTotal: d(r), capturedTotal: d(C) });
    return { A, C, R, startAmount, hasAuthorized, events: canonical(events) };
  });

/** A scenario and an arrival order: every event at least once, some duplicated, shuffled. */
const arrivalArb = scenarioArb.chain((sc) => {
  const n = sc.events.length;
  const indices = Array.from({ length: n }, (_, i) => i);
  return fc
    .array(fc.nat({ max: n - 1 }), { maxLength: n * 2 })
    .chain((dups) => fc.shuffledSubarray([...indices, ...dups], { minLength: n + dups.length }))
    .map((order) => ({ sc, arrival: order.map((i) => sc.events[i]!) }));
});

describe('applyPaymentEvent: order independence', () => {
  it('reaches the same totals, postings and status for any arrival order with duplicates', () => {
    fc.assert(
      fc.property(arrivalArb, ({ sc, arrival }) => {
        const start = initial(sc.startAmount);
        const { outcomes, state } = run(start, arrival);
        const C = d(sc.C);
        const R = d(sc.R);

        // Refunds never exceed the captured amount, after every single step.
        for (const o of outcomes) {
          expect(o.state.refundedAmount.lessThanOrEqualTo(o.state.capturedAmount)).toBe(true);
          for (const p of o.postings) expect(p.amount.greaterThan(0)).toBe(true);
        }

        const all = outcomes.flatMap((o) => o.postings);
        expect(state.capturedAmount.toString()).toBe(C.toString());
        expect(state.refundedAmount.toString()).toBe(R.toString());
        expect(sumOf(all, 'capture').toString()).toBe(C.toString());
        expect(sumOf(all, 'refund').toString()).toBe(R.toString());

        // The final status does not depend on the order: compare with the canonical order.
        const sorted = run(start, sc.events).state;
        expect(state.status).toBe(sorted.status);
        expect(plain(state)).toEqual(plain(sorted));

        // And it is the status the totals imply.
        const expected: PaymentStatus = R.greaterThan(0)
          ? R.equals(C)
            ? 'refunded'
            : 'partially_refunded'
          : C.greaterThan(0)
            ? 'captured'
            : sc.hasAuthorized
              ? 'authorized'
              : 'pending';
        expect(state.status).toBe(expected);

        // The amount is the largest the payment has seen.
        const knowsA = sc.hasAuthorized || sc.startAmount === sc.A;
        expect(state.amount.toString()).toBe(knowsA ? d(sc.A).toString() : C.toString());
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * Forward order of statuses. `failed` and `voided` sit between authorized and captured:
 * they are reached only from pending or authorized, and left only for captured (when money
 * arrives). The one step against this order is refunded → partially_refunded, when an event
 * captures more than was refunded (a capture, or a refund whose total implies more capture).
 */
const statusRank: Record<PaymentStatus, number> = {
  pending: 0,
  authorized: 1,
  failed: 1.5,
  voided: 1.5,
  captured: 2,
  partially_refunded: 3,
  refunded: 4,
  disputed: 5,
  charged_back: 6,
};

/** Exactly the steps the code can take (see the tests above for one example of each). */
const ALLOWED_STEPS = new Set([
  'pending→authorized',
  'pending→failed',
  'pending→voided',
  'authorized→failed',
  'authorized→voided',
  'authorized→captured',
  'failed→captured',
  'voided→captured',
  'captured→partially_refunded',
  'captured→refunded',
  'partially_refunded→refunded',
  'refunded→partially_refunded',
]);

const smallAmount = fc.integer({ min: 0, max: 2000 }).map((n) => d(n));
const anyEventArb: fc.Arbitrary<PaymentEvent> = fc.oneof(
  fc.record({ kind: fc.constant('authorized' as const), amount: smallAmount }, { requiredKeys: ['kind'] }),
  fc.record({ kind: fc.constant('failed' as const) }),
  fc.record({ kind: fc.constant('voided' as const) }),
  fc.record({ kind: fc.constant('captured' as const), amount: smallAmount, capturedTotal: smallAmount }, { requiredKeys: ['kind'] }),
  fc.record(
    { kind: fc.constant('refunded' as const), capturedTotal: smallAmount, refundedTotal: smallAmount },
    { requiredKeys: ['kind'] },
  ),
);

describe('applyPaymentEvent: statuses only move forward', () => {
  it('takes only forward steps, except refunded → partially_refunded when the same event captures more', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1000).map(initial), fc.array(anyEventArb, { maxLength: 12 }), (start, events) => {
        let state = start;
        for (const e of events) {
          const o = applyPaymentEvent(state, e);
          let at = state.status;
          for (const [i, step] of o.steps.entries()) {
            // Steps chain from the old status to the new one.
            expect(step.from).toBe(at);
            expect(step.to).not.toBe(step.from);
            expect(ALLOWED_STEPS.has(`${step.from}→${step.to}`)).toBe(true);
            if (step.from === 'refunded' && step.to === 'partially_refunded') {
              // The only backward step: the same event captured more than was refunded. If it
              // also refunded up to the new captured total, the next step returns to refunded.
              expect(o.postings[0]?.kind).toBe('capture');
              const next = o.steps[i + 1];
              if (next === undefined) {
                expect(o.state.capturedAmount.greaterThan(o.state.refundedAmount)).toBe(true);
              } else {
                expect(next).toEqual({ from: 'partially_refunded', to: 'refunded' });
                expect(o.postings.map((p) => p.kind)).toEqual(['capture', 'refund']);
              }
            } else {
              expect(statusRank[step.to]).toBeGreaterThan(statusRank[step.from]);
            }
            at = step.to;
          }
          expect(o.state.status).toBe(at);

          // Amounts only grow, refunds never exceed captures, and postings are the deltas.
          expect(o.state.capturedAmount.greaterThanOrEqualTo(state.capturedAmount)).toBe(true);
          expect(o.state.refundedAmount.greaterThanOrEqualTo(state.refundedAmount)).toBe(true);
          expect(o.state.refundedAmount.lessThanOrEqualTo(o.state.capturedAmount)).toBe(true);
          expect(o.state.capturedAmount.minus(state.capturedAmount).toString()).toBe(sumOf(o.postings, 'capture').toString());
          expect(o.state.refundedAmount.minus(state.refundedAmount).toString()).toBe(sumOf(o.postings, 'refund').toString());

          // A stale outcome changes nothing.
          expect(o.stale).toBe(o.steps.length === 0 && o.postings.length === 0);
          if (o.stale) {
            expect(o.state.status).toBe(state.status);
            expect(o.state.capturedAmount.toString()).toBe(state.capturedAmount.toString());
            expect(o.state.refundedAmount.toString()).toBe(state.refundedAmount.toString());
          }
          state = o.state;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never leaves captured, partially_refunded or refunded for failed, voided, authorized or pending', () => {
    const earlier = new Set<PaymentStatus>(['pending', 'authorized', 'failed', 'voided']);
    fc.assert(
      fc.property(fc.array(anyEventArb, { maxLength: 12 }), (events) => {
        let state = initial(1000);
        let capturedOnce = false;
        for (const e of events) {
          state = applyPaymentEvent(state, e).state;
          if (state.capturedAmount.greaterThan(0)) capturedOnce = true;
          if (capturedOnce) expect(earlier.has(state.status)).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
