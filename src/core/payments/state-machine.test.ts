import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialPaymentState, type PaymentState } from './payment-state.js';
import { isKnownStep, next, type Outcome, type PaymentEvent, type Posting } from './state-machine.js';

const d = (v: number | string | bigint): Decimal => new Decimal(typeof v === 'bigint' ? v.toString() : v);

/** Postings as plain [kind, amount-string] pairs, so that expectations compare exactly. */
const postingsOf = (o: Outcome): [Posting['kind'], string][] => o.postings.map((p) => [p.kind, p.amount.toString()]);

/** The visible state as plain strings. */
const plain = (s: PaymentState) => ({
  status: s.status,
  amount: s.amount.toString(),
  capturedAmount: s.capturedAmount.toString(),
  refundedAmount: s.refundedAmount.toString(),
  chargedBackAmount: s.chargedBackAmount.toString(),
  overRefundedAmount: s.overRefundedAmount.toString(),
});

/** Applies events in order; returns each outcome and the final state. */
function run(events: PaymentEvent[], start: PaymentState = initialPaymentState()): { outcomes: Outcome[]; state: PaymentState } {
  let state = start;
  const outcomes: Outcome[] = [];
  for (const e of events) {
    const o = next(state, e, 'psp_1');
    outcomes.push(o);
    state = o.state;
  }
  return { outcomes, state };
}

/** Net ledger effect of postings: captured, refunded, charged back. */
function net(outcomes: Outcome[]): { captured: string; refunded: string; chargedBack: string } {
  let c = d(0);
  let r = d(0);
  let cb = d(0);
  for (const p of outcomes.flatMap((o) => o.postings)) {
    if (p.kind === 'capture') c = c.plus(p.amount);
    if (p.kind === 'capture_reversal') c = c.minus(p.amount);
    if (p.kind === 'refund') r = r.plus(p.amount);
    if (p.kind === 'refund_reversal') r = r.minus(p.amount);
    if (p.kind === 'dispute_loss') cb = cb.plus(p.amount);
    if (p.kind === 'dispute_loss_reversal') cb = cb.minus(p.amount);
  }
  return { captured: c.toString(), refunded: r.toString(), chargedBack: cb.toString() };
}

const capture = (ref: string, amount: number, outcome: 'pending' | 'succeeded' | 'failed' = 'succeeded'): PaymentEvent => ({
  kind: outcome === 'failed' ? 'capture_failed' : 'captured',
  operation: { kind: 'capture', reference: ref, outcome, amount: d(amount) },
});
const refund = (ref: string, amount: number, outcome: 'pending' | 'succeeded' | 'failed' = 'succeeded'): PaymentEvent => ({
  kind: outcome === 'failed' ? 'refund_failed' : outcome === 'pending' ? 'refund_pending' : 'refunded',
  operation: { kind: 'refund', reference: ref, outcome, amount: d(amount) },
});
const dispute = (ref: string, amount: number, outcome: 'open' | 'won' | 'lost' | 'reversed'): PaymentEvent => ({
  kind: ({ open: 'dispute_opened', won: 'dispute_won', lost: 'dispute_lost', reversed: 'dispute_reversed' } as const)[outcome],
  operation: { kind: 'dispute', reference: ref, outcome, amount: d(amount) },
});

describe('next: cumulative totals (Stripe, Checkout.com, …)', () => {
  it('walks pending → authorized → captured → partially_refunded → refunded, posting capture 1000, refund 400, refund 600', () => {
    const { outcomes, state } = run([
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
    expect(outcomes.map((o) => o.events)).toEqual([
      ['payment.authorized'],
      ['payment.captured'],
      ['payment.partially_refunded'],
      ['payment.refunded'],
    ]);
    expect(plain(state)).toMatchObject({ status: 'refunded', amount: '1000', capturedAmount: '1000', refundedAmount: '1000' });
  });

  it('applies the implied authorization and capture when a full refund arrives on a pending payment', () => {
    const o = next(initialPaymentState(d(1000)), { kind: 'refunded', refundedTotal: d(1000), capturedTotal: d(1000) });
    expect(o.steps).toEqual([
      { from: 'pending', to: 'authorized' },
      { from: 'authorized', to: 'captured' },
      { from: 'captured', to: 'refunded' },
    ]);
    expect(postingsOf(o)).toEqual([
      ['capture', '1000'],
      ['refund', '1000'],
    ]);
    expect(o.events).toEqual(['payment.authorized', 'payment.captured', 'payment.refunded']);
  });

  it('treats a duplicate event as stale: no steps, no postings, no events, the same state', () => {
    let state = initialPaymentState();
    for (const e of [
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(700) },
      { kind: 'refunded', refundedTotal: d(200), capturedTotal: d(700) },
    ] satisfies PaymentEvent[]) {
      const first = next(state, e);
      expect(first.stale).toBe(false);
      const again = next(first.state, e);
      expect(again).toMatchObject({ stale: true, steps: [], postings: [], events: [], newOperations: [], factsChanged: false });
      expect(plain(again.state)).toEqual(plain(first.state));
      state = again.state;
    }
  });

  it('treats payment_failed after the payment succeeded as stale (captured money wins), and still records the report', () => {
    const captured = run([
      { kind: 'authorized', amount: d(1000) },
      { kind: 'captured', capturedTotal: d(1000) },
    ]).state;
    const o = next(captured, { kind: 'failed' }, 'psp_1');
    expect(o).toMatchObject({ stale: true, steps: [], postings: [], factsChanged: true });
    expect(o.newOperations).toEqual([{ kind: 'authorization', reference: 'psp_1', outcome: 'failed', amount: null }]);
    expect(plain(o.state)).toEqual(plain(captured));
  });

  it('moves a failed payment to captured when a capture arrives (a retry with another payment method)', () => {
    const failed = next(initialPaymentState(d(1000)), { kind: 'failed' });
    expect(failed.steps).toEqual([{ from: 'pending', to: 'failed' }]);
    const o = next(failed.state, { kind: 'captured', capturedTotal: d(1000) });
    expect(o.steps).toEqual([{ from: 'failed', to: 'captured' }]);
    expect(postingsOf(o)).toEqual([['capture', '1000']]);
  });
});

describe('next: operations (Adyen modifications, Stripe refunds and disputes)', () => {
  it('sums partial captures and partial refunds, each with its own reference', () => {
    const { outcomes, state } = run([
      { kind: 'authorized', amount: d(1000) },
      capture('cap_1', 300),
      capture('cap_2', 700),
      refund('ref_1', 100),
      refund('ref_2', 250),
    ]);
    expect(outcomes.map(postingsOf)).toEqual([[], [['capture', '300']], [['capture', '700']], [['refund', '100']], [['refund', '250']]]);
    expect(plain(state)).toMatchObject({ status: 'partially_refunded', capturedAmount: '1000', refundedAmount: '350' });
    expect(outcomes[2]!.events).toEqual(['payment.captured']);
  });

  it('reverses a capture that failed after it succeeded (Adyen CAPTURE then CAPTURE_FAILED), then captures again', () => {
    const { outcomes, state } = run([
      { kind: 'authorized', amount: d(1000) },
      capture('cap_1', 1000),
      capture('cap_1', 1000, 'failed'),
      capture('cap_2', 1000),
    ]);
    expect(outcomes.map(postingsOf)).toEqual([[], [['capture', '1000']], [['capture_reversal', '1000']], [['capture', '1000']]]);
    expect(outcomes[2]!.steps).toEqual([{ from: 'captured', to: 'authorized' }]);
    expect(outcomes[2]!.events).toEqual(['payment.capture_failed']);
    expect(state.status).toBe('captured');
  });

  it('reverses a refund that failed after it succeeded (Adyen REFUND_FAILED), and ignores a late success of it', () => {
    const { outcomes, state } = run([capture('cap_1', 1000), refund('ref_1', 400), refund('ref_1', 400, 'failed'), refund('ref_1', 400)]);
    expect(outcomes.map(postingsOf).slice(1)).toEqual([[['refund', '400']], [['refund_reversal', '400']], []]);
    expect(outcomes[2]!.events).toEqual(['payment.refund_failed']);
    expect(outcomes[3]!.stale).toBe(true);
    expect(plain(state)).toMatchObject({ status: 'captured', refundedAmount: '0' });
  });

  it('records and flags a refund beyond the captured amount and posts nothing beyond it', () => {
    const { outcomes, state } = run([
      { kind: 'authorized', amount: d(1000) },
      capture('cap_1', 1000),
      refund('ref_1', 600),
      refund('ref_2', 600),
    ]);
    expect(outcomes.map(postingsOf).slice(2)).toEqual([[['refund', '600']], [['refund', '400']]]);
    expect(plain(state)).toMatchObject({ status: 'refunded', capturedAmount: '1000', refundedAmount: '1000', overRefundedAmount: '200' });
    expect(state.operations.filter((o) => o.kind === 'refund')).toHaveLength(2);
  });

  it('opens a dispute, loses it (dispute_loss posting), then has it reversed (Adyen CHARGEBACK_REVERSED)', () => {
    const { outcomes, state } = run([
      capture('cap_1', 1000),
      dispute('dp_1', 1000, 'open'),
      dispute('dp_1', 1000, 'lost'),
      dispute('dp_1', 1000, 'reversed'),
    ]);
    expect(outcomes.map((o) => o.steps.map((s) => `${s.from}→${s.to}`))).toEqual([
      ['pending→authorized', 'authorized→captured'],
      ['captured→disputed'],
      ['disputed→charged_back'],
      ['charged_back→captured'],
    ]);
    expect(outcomes.map((o) => o.events)).toEqual([
      ['payment.authorized', 'payment.captured'],
      ['payment.disputed'],
      ['payment.charged_back'],
      ['payment.dispute_won'],
    ]);
    expect(outcomes.map(postingsOf).slice(2)).toEqual([[['dispute_loss', '1000']], [['dispute_loss_reversal', '1000']]]);
    expect(plain(state)).toMatchObject({ status: 'captured', chargedBackAmount: '0' });
  });

  it('moves a won dispute back to captured with payment.dispute_won and no posting', () => {
    const { outcomes } = run([capture('cap_1', 500), dispute('dp_1', 500, 'open'), dispute('dp_1', 500, 'won')]);
    expect(outcomes[2]).toMatchObject({ steps: [{ from: 'disputed', to: 'captured' }], postings: [], events: ['payment.dispute_won'] });
  });

  it('applies a chargeback that arrives before the dispute was opened and before the capture', () => {
    const { outcomes, state } = run([dispute('dp_1', 700, 'lost'), capture('cap_1', 1000)]);
    expect(plain(state)).toMatchObject({ status: 'charged_back', capturedAmount: '1000', chargedBackAmount: '700' });
    expect(net(outcomes)).toEqual({ captured: '1000', refunded: '0', chargedBack: '700' });
  });
});

// ---------------------------------------------------------------------------------------
// Order independence: any permutation and duplication of a payment's events ends in the
// same state and the same net postings as the events in order.

/** A payment's events, in order: cumulative (Stripe-like) or operation-level (Adyen-like). */
const scenarioArb: fc.Arbitrary<PaymentEvent[]> = fc.oneof(
  fc
    .record({
      amount: fc.integer({ min: 1, max: 1_000_000 }),
      authorized: fc.boolean(),
      failedFirst: fc.boolean(),
      voided: fc.boolean(),
      captureShare: fc.integer({ min: 0, max: 100 }),
      refundShares: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 4 }),
    })
    .map((s) => {
      const events: PaymentEvent[] = [];
      if (s.failedFirst) events.push({ kind: 'failed', amount: d(s.amount) });
      if (s.authorized) events.push({ kind: 'authorized', amount: d(s.amount) });
      if (s.voided) events.push({ kind: 'voided' });
      const captured = Math.floor((s.amount * s.captureShare) / 100);
      if (captured > 0 || !s.voided) events.push({ kind: 'captured', amount: d(s.amount), capturedTotal: d(captured) });
      let refunded = 0;
      for (const share of [...s.refundShares].sort((a, b) => a - b)) {
        refunded = Math.max(refunded, Math.floor((captured * share) / 100));
        events.push({ kind: 'refunded', amount: d(s.amount), capturedTotal: d(captured), refundedTotal: d(refunded) });
      }
      return events;
    }),
  fc
    .record({
      amount: fc.integer({ min: 1, max: 1_000_000 }),
      authorized: fc.boolean(),
      captures: fc.array(fc.record({ amount: fc.integer({ min: 1, max: 600_000 }), fails: fc.boolean() }), { maxLength: 3 }),
      refunds: fc.array(
        fc.record({ amount: fc.integer({ min: 1, max: 600_000 }), outcome: fc.constantFrom('pending', 'succeeded', 'failed') }),
        { maxLength: 3 },
      ),
      disputes: fc.array(
        fc.record({
          amount: fc.integer({ min: 1, max: 600_000 }),
          path: fc.constantFrom(['open'], ['open', 'won'], ['open', 'lost'], ['open', 'lost', 'reversed'], ['lost']),
        }),
        { maxLength: 2 },
      ),
    })
    .map((s) => {
      const events: PaymentEvent[] = [];
      if (s.authorized) events.push({ kind: 'authorized', amount: d(s.amount) });
      s.captures.forEach((c, i) => {
        events.push(capture(`cap_${i}`, c.amount));
        if (c.fails) events.push(capture(`cap_${i}`, c.amount, 'failed'));
      });
      s.refunds.forEach((r, i) => {
        if (r.outcome !== 'pending') events.push(refund(`ref_${i}`, r.amount, 'pending'));
        events.push(refund(`ref_${i}`, r.amount, 'succeeded'));
        if (r.outcome === 'failed') events.push(refund(`ref_${i}`, r.amount, 'failed'));
      });
      s.disputes.forEach((dp, i) => {
        for (const outcome of dp.path as readonly ('open' | 'won' | 'lost' | 'reversed')[])
          events.push(dispute(`dp_${i}`, dp.amount, outcome));
      });
      return events;
    }),
);

const arrivalArb = scenarioArb
  .filter((events) => events.length > 0)
  .chain((events) => {
    const n = events.length;
    const indices = Array.from({ length: n }, (_, i) => i);
    return fc
      .array(fc.nat({ max: n - 1 }), { maxLength: n })
      .chain((dups) => fc.shuffledSubarray([...indices, ...dups], { minLength: n + dups.length }))
      .map((order) => ({ events, arrival: order.map((i) => events[i]!) }));
  });

describe('next: order independence', () => {
  it('ends in the same state and the same net postings for any arrival order with duplicates; every step is in the state table', () => {
    fc.assert(
      fc.property(arrivalArb, ({ events, arrival }) => {
        const inOrder = run(events);
        const shuffled = run(arrival);
        expect(plain(shuffled.state)).toEqual(plain(inOrder.state));
        expect(net(shuffled.outcomes)).toEqual(net(inOrder.outcomes));
        for (const r of [inOrder, shuffled]) {
          // the ledger's net is the payment's amounts
          expect(net(r.outcomes)).toEqual({
            captured: r.state.capturedAmount.toString(),
            refunded: r.state.refundedAmount.toString(),
            chargedBack: r.state.chargedBackAmount.toString(),
          });
          let status = initialPaymentState().status;
          for (const o of r.outcomes) {
            // refunds never beyond captured, after every event; postings positive; steps chain
            expect(o.state.refundedAmount.lessThanOrEqualTo(o.state.capturedAmount)).toBe(true);
            expect(o.state.chargedBackAmount.lessThanOrEqualTo(o.state.capturedAmount.minus(o.state.refundedAmount))).toBe(true);
            for (const p of o.postings) expect(p.amount.greaterThan(0)).toBe(true);
            for (const s of o.steps) {
              expect(s.from).toBe(status);
              expect(isKnownStep(s) ? 'known' : `${s.from}→${s.to}`).toBe('known');
              status = s.to;
            }
            expect(o.state.status).toBe(status);
            if (o.stale) expect([o.steps, o.postings, o.events]).toEqual([[], [], []]);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
