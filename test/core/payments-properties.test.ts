// Properties of the whole processing path against the real database (issue #3's tests,
// on the skeleton's state machine): any order and duplication of a payment's Stripe events
// ends in the same payment and ledger as the events in order, and the ledger sums to zero
// per currency; many workers on shared accounts neither deadlock nor lose an update.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { checkLedger } from '../../src/core/ledger/ledger-store.js';
import { processInboundEvent, processInboundEvents } from '../../src/inbound/process-event.task.js';
import { recordInboundEvent } from '../record-inbound-event.js';
import { buildStripeEvent, type SimulatedStripeType } from '../../src/dev/simulate/stripe.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';

let db: TestDatabase;
let deps: Deps;
let merchantId: string;
let sourceId: string;
let adyenSourceId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  const m = await aMerchant(deps);
  merchantId = m.id;
  const res = await testApp(deps).request(
    '/v1/sources',
    jsonRequest('POST', { provider: 'stripe', secret: 'whsec_properties0123456789abcdefXYZ' }, m.apiKey),
  );
  sourceId = ((await res.json()) as { id: string }).id;
  const adyen = await testApp(deps).request(
    '/v1/sources',
    jsonRequest('POST', { provider: 'adyen', secret: '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056' }, m.apiKey),
  );
  adyenSourceId = ((await adyen.json()) as { id: string }).id;
});
afterAll(async () => {
  // Every payment event the properties produced is valid against the published event catalogue.
  await expectEventsMatchCatalogue(db.sql);
  await db.drop();
});

/** Stores a Stripe event as the inbound route would (already verified) and returns its inbound id. */
async function store(event: Record<string, unknown>): Promise<string> {
  const body = new TextEncoder().encode(JSON.stringify(event));
  const r = await db.sql.begin((tx) =>
    recordInboundEvent(tx, {
      sourceId,
      merchantId,
      eventId: event.id as string,
      eventType: event.type as string,
      rawBody: body,
      headers: {},
    }),
  );
  return r.id;
}

interface Step {
  type: SimulatedStripeType | 'refund.updated' | 'charge.dispute.created' | 'charge.dispute.closed';
  amountRefunded?: number;
  /** refund.updated: the refund's own id suffix and amount; disputes: the closing status. */
  refund?: { n: number; amount: number };
  disputeStatus?: 'won' | 'lost';
}

/** A Stripe event of `step` for one PaymentIntent: the simulator's, or a refund or dispute object. */
function stripeEventOf(step: Step, pi: string, amount: number, currency: string): Record<string, unknown> {
  const id = `evt_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  if (step.type === 'refund.updated') {
    const object = {
      id: `re_${pi}_${step.refund!.n}`,
      object: 'refund',
      amount: step.refund!.amount,
      currency,
      status: 'succeeded',
      charge: `ch_${pi}`,
      payment_intent: pi,
    };
    return { id, object: 'event', type: step.type, data: { object } };
  }
  if (step.type === 'charge.dispute.created' || step.type === 'charge.dispute.closed') {
    const status = step.type === 'charge.dispute.created' ? 'needs_response' : step.disputeStatus!;
    const object = {
      id: `dp_${pi}`,
      object: 'dispute',
      amount: Math.max(1, Math.floor(amount / 3)),
      currency,
      status,
      charge: `ch_${pi}`,
      payment_intent: pi,
    };
    return { id, object: 'event', type: step.type, data: { object } };
  }
  return buildStripeEvent(step.type, {
    paymentIntent: pi,
    amount,
    currency,
    ...(step.amountRefunded !== undefined ? { amountRefunded: step.amountRefunded } : {}),
  });
}

async function finalState(pi: string) {
  const [p] = await db.sql<{ status: string; captured_amount: string; refunded_amount: string; currency: string }[]>`
    select status, captured_amount, refunded_amount, currency from gw.payments where source_id = ${sourceId} and psp_reference = ${pi}`;
  return p!;
}

/** The payment's net effect on each account (debit-positive): what its ledger balances to. */
async function ledgerOf(pi: string) {
  return db.sql<{ code: string; net: string }[]>`
    select a.code, sum(case e.direction when 'debit' then e.amount else -e.amount end)::text as net
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id
      join gw.ledger_accounts a on a.id = e.account_id
      join gw.payments p on p.id = t.payment_id
     where p.source_id = ${sourceId} and p.psp_reference = ${pi}
     group by a.code order by a.code`;
}

let run = 0;

describe('processing a payment’s Stripe events in any order, with duplicates', () => {
  it('ends in the same payment and ledger as the events in order, and the ledger sums to zero per currency', async () => {
    const scenario = fc
      .record({
        amount: fc.integer({ min: 1, max: 10_000_000 }),
        currency: fc.constantFrom('usd', 'jpy', 'kwd', 'eur'),
        refundParts: fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 3 }),
        fullRefund: fc.boolean(),
        withFailure: fc.boolean(),
        withAuthorization: fc.boolean(),
        // Stripe also sends each refund as its own object, beside charge.refunded's cumulative total
        refundObjects: fc.boolean(),
        dispute: fc.constantFrom(null, 'won' as const, 'lost' as const),
      })
      .chain((s) => {
        const steps: Step[] = [];
        if (s.withAuthorization) steps.push({ type: 'payment_intent.amount_capturable_updated' });
        if (s.withFailure) steps.push({ type: 'payment_intent.payment_failed' });
        steps.push({ type: 'payment_intent.succeeded' });
        // cumulative refunds, increasing, never beyond the amount
        let refunded = 0;
        const totalWeight = s.refundParts.reduce((a, b) => a + b, 0) + (s.fullRefund ? 0 : 100);
        const refundTo = (total: number) => {
          if (s.refundObjects && total > refunded)
            steps.push({ type: 'refund.updated', refund: { n: steps.length, amount: total - refunded } });
          refunded = total;
          steps.push({ type: 'charge.refunded', amountRefunded: refunded });
        };
        for (const part of s.refundParts) {
          refundTo(Math.min(s.amount, refunded + Math.max(1, Math.floor((s.amount * part) / Math.max(1, totalWeight)))));
        }
        if (s.fullRefund) refundTo(s.amount);
        if (s.dispute) steps.push({ type: 'charge.dispute.created' }, { type: 'charge.dispute.closed', disputeStatus: s.dispute });
        const indices = fc.array(fc.integer({ min: 0, max: steps.length - 1 }), { maxLength: steps.length });
        return fc.tuple(
          fc.constant(s),
          fc.constant(steps),
          fc.shuffledSubarray(
            steps.map((_, i) => i),
            { minLength: steps.length },
          ),
          indices,
        );
      });

    await fc.assert(
      fc.asyncProperty(scenario, async ([s, steps, order, duplicates]) => {
        run += 1;
        const inOrder = `pi_sorted_${run}`;
        const shuffled = `pi_shuffled_${run}`;
        const events = (pi: string) => steps.map((st) => stripeEventOf(st, pi, s.amount, s.currency));
        for (const e of events(inOrder)) await processInboundEvent(deps, { inboundEventId: await store(e) });

        const mine = events(shuffled);
        const ids = new Map<number, string>();
        for (const i of [...order, ...duplicates]) {
          // a duplicate is the same Stripe event delivered again: stored once, applied once
          const id = ids.get(i) ?? (await store(mine[i]!));
          ids.set(i, id);
          await processInboundEvent(deps, { inboundEventId: id });
        }

        expect(await finalState(shuffled)).toEqual(await finalState(inOrder));
        expect(await ledgerOf(shuffled)).toEqual(await ledgerOf(inOrder));
        const check = await checkLedger(db.sql, merchantId);
        expect(check.balanced).toBe(true);
        for (const c of check.currencies) expect(c.debits.equals(c.credits)).toBe(true);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});

/** Stores one Adyen NotificationRequestItem as the inbound route would (one event per item). */
async function storeAdyen(item: Record<string, unknown>, eventId: string): Promise<string> {
  const body = new TextEncoder().encode(JSON.stringify(item));
  const r = await db.sql.begin((tx) =>
    recordInboundEvent(tx, {
      sourceId: adyenSourceId,
      merchantId,
      eventId,
      eventType: item.eventCode as string,
      rawBody: body,
      headers: {},
    }),
  );
  return r.id;
}

/** A payment's status and amounts, and its net effect on each account (debit-positive). */
async function adyenOutcome(psp: string) {
  const [p] = await db.sql<Record<string, string>[]>`
    select status, amount, captured_amount, refunded_amount, charged_back_amount, over_refunded_amount, currency
      from gw.payments where source_id = ${adyenSourceId} and psp_reference = ${psp}`;
  const accounts = await db.sql<{ code: string; net: string }[]>`
    select a.code, sum(case e.direction when 'debit' then e.amount else -e.amount end)::text as net
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id
      join gw.ledger_accounts a on a.id = e.account_id
      join gw.payments p on p.id = t.payment_id
     where p.source_id = ${adyenSourceId} and p.psp_reference = ${psp}
     group by a.code order by a.code`;
  const nets = Object.fromEntries(accounts.map((a) => [a.code, a.net]));
  return { payment: p, psp_receivable: nets.psp_receivable ?? '0', merchant_payable: nets.merchant_payable ?? '0' };
}

describe('processing a payment’s Adyen operations in any order, with duplicates', () => {
  it('ends in the same payment and account balances as in order, across USD, JPY and KWD, with partial captures and refunds, failures and disputes', async () => {
    type Item = { eventCode: string; pspReference: string; success: 'true' | 'false'; value: number };
    const scenario = fc
      .record({
        currency: fc.constantFrom('USD', 'JPY', 'KWD'),
        amount: fc.integer({ min: 1, max: 5_000_000 }),
        authorised: fc.boolean(),
        captures: fc.array(fc.record({ share: fc.integer({ min: 1, max: 60 }), fails: fc.boolean(), refused: fc.boolean() }), {
          minLength: 1,
          maxLength: 3,
        }),
        refunds: fc.array(fc.record({ share: fc.integer({ min: 1, max: 70 }), fails: fc.boolean() }), { maxLength: 3 }),
        dispute: fc.constantFrom(
          null,
          ['NOTIFICATION_OF_CHARGEBACK'],
          ['NOTIFICATION_OF_CHARGEBACK', 'CHARGEBACK'],
          ['CHARGEBACK', 'CHARGEBACK_REVERSED'],
        ),
        cancel: fc.boolean(),
      })
      .chain((s) => {
        const items: Item[] = [];
        const part = (share: number) => Math.max(1, Math.floor((s.amount * share) / 100));
        if (s.authorised) items.push({ eventCode: 'AUTHORISATION', pspReference: 'AUTH', success: 'true', value: s.amount });
        s.captures.forEach((c, i) => {
          items.push({ eventCode: 'CAPTURE', pspReference: `CAP${i}`, success: c.refused ? 'false' : 'true', value: part(c.share) });
          if (c.fails && !c.refused)
            items.push({ eventCode: 'CAPTURE_FAILED', pspReference: `CAP${i}`, success: 'true', value: part(c.share) });
        });
        // refunds may add up to more than was captured: the excess is flagged, not posted
        s.refunds.forEach((r, i) => {
          items.push({ eventCode: 'REFUND', pspReference: `REF${i}`, success: 'true', value: part(r.share) });
          if (r.fails) items.push({ eventCode: 'REFUND_FAILED', pspReference: `REF${i}`, success: 'true', value: part(r.share) });
        });
        for (const code of s.dispute ?? []) items.push({ eventCode: code, pspReference: 'DSP', success: 'true', value: part(30) });
        if (s.cancel) items.push({ eventCode: 'CANCELLATION', pspReference: 'CNL', success: 'true', value: s.amount });
        const indices = fc.array(fc.integer({ min: 0, max: items.length - 1 }), { maxLength: items.length });
        return fc.tuple(
          fc.constant(s),
          fc.constant(items),
          fc.shuffledSubarray(
            items.map((_, i) => i),
            { minLength: items.length },
          ),
          indices,
        );
      });

    await fc.assert(
      fc.asyncProperty(scenario, async ([s, items, order, duplicates]) => {
        run += 1;
        const inOrder = `ADY_SORTED_${run}`;
        const shuffled = `ADY_SHUFFLED_${run}`;
        const itemFor = (payment: string, it: Item) => ({
          eventCode: it.eventCode,
          pspReference: it.eventCode === 'AUTHORISATION' ? payment : `${payment}_${it.pspReference}`,
          ...(it.eventCode === 'AUTHORISATION' ? {} : { originalReference: payment }),
          merchantReference: `order-${run}`,
          success: it.success,
          amount: { value: it.value, currency: s.currency },
        });
        for (const [i, it] of items.entries()) {
          await processInboundEvent(deps, { inboundEventId: await storeAdyen(itemFor(inOrder, it), `${inOrder}:${i}`) });
        }
        const ids = new Map<number, string>();
        for (const i of [...order, ...duplicates]) {
          const id = ids.get(i) ?? (await storeAdyen(itemFor(shuffled, items[i]!), `${shuffled}:${i}`));
          ids.set(i, id);
          await processInboundEvent(deps, { inboundEventId: id });
        }
        const a = await adyenOutcome(inOrder);
        const b = await adyenOutcome(shuffled);
        expect(b).toEqual(a);
        // the payment's net ledger effect is its captured − refunded − charged back
        const p = a.payment!;
        const held = BigInt(p.captured_amount!) - BigInt(p.refunded_amount!) - BigInt(p.charged_back_amount!);
        expect(a.psp_receivable).toBe(held.toString());
        expect(BigInt(a.merchant_payable)).toBe(-held);
        expect(BigInt(p.refunded_amount!) <= BigInt(p.captured_amount!)).toBe(true);
        // the whole ledger sums to zero per currency after every run
        const check = await checkLedger(db.sql, merchantId);
        expect(check.balanced).toBe(true);
        for (const c of check.currencies) expect(c.debits.equals(c.credits)).toBe(true);
        const stale = await db.sql<{ n: number }[]>`
          select count(*)::int as n from gw.inbound_events where source_id = ${adyenSourceId} and status <> 'processed'`;
        expect(stale[0]!.n).toBe(0);
      }),
      { numRuns: 40 },
    );
  }, 180_000);
});

/**
 * 200 Stripe payments of one merchant (amounts `base + i` minor units), each with 10 stored
 * events: amount_capturable_updated, succeeded, and 8 charge.refunded up to half refunded.
 * Returns the payments and the 2,000 inbound event ids, in order.
 */
async function storeSharedAccountWorkload(
  prefix: string,
  base: number,
): Promise<{ payments: { pi: string; amount: number }[]; ids: string[] }> {
  const payments = Array.from({ length: 200 }, (_, i) => ({ pi: `${prefix}_${i}`, amount: base + i }));
  const ids: string[] = [];
  for (const p of payments) {
    const evs = [
      buildStripeEvent('payment_intent.amount_capturable_updated', { paymentIntent: p.pi, amount: p.amount }),
      buildStripeEvent('payment_intent.succeeded', { paymentIntent: p.pi, amount: p.amount }),
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((k) =>
        buildStripeEvent('charge.refunded', { paymentIntent: p.pi, amount: p.amount, amountRefunded: Math.floor((p.amount * k) / 16) }),
      ),
    ];
    for (const e of evs) ids.push(await store(e));
  }
  return { payments, ids };
}

/** `ids` in a deterministic shuffled order (fast-check, `seed`). */
const shuffled = (ids: string[], seed: number): string[] =>
  fc.sample(fc.shuffledSubarray(ids, { minLength: ids.length }), { numRuns: 1, seed })[0]!;

describe('many workers on one merchant’s shared accounts', () => {
  it('process 2,000 events over 200 payments with 8 workers at once: no deadlock, balances equal the sums of entries', async () => {
    const { payments, ids } = await storeSharedAccountWorkload('pi_concurrent', 1000);
    expect(ids).toHaveLength(2000);
    // shuffle deterministically, then 8 concurrent workers drain the list
    const queue = shuffled(ids, 42);
    let next = 0;
    const errors: unknown[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < queue.length) {
          const id = queue[next++]!;
          await processInboundEvent(deps, { inboundEventId: id }).catch((e: unknown) => errors.push(e));
        }
      }),
    );
    expect(errors).toEqual([]);
    for (const p of payments.slice(0, 20)) {
      const s = await finalState(p.pi);
      expect(s).toMatchObject({
        status: 'partially_refunded',
        captured_amount: String(p.amount),
        refunded_amount: String(Math.floor(p.amount / 2)),
      });
    }
    const check = await checkLedger(db.sql, merchantId);
    expect(check).toMatchObject({ balanced: true, unbalancedTransactions: [], driftedAccounts: [] });
  }, 120_000);
});

describe('many workers processing batches of events on shared accounts', () => {
  it('process 2,000 events over 200 payments in batches of 25 with 8 workers at once: no deadlock, the same payments as one by one, balances equal the sums of entries', async () => {
    const { payments, ids } = await storeSharedAccountWorkload('pi_batched', 2000);
    const queue = shuffled(ids, 7);
    let next = 0;
    const errors: unknown[] = [];
    const outcomes: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < queue.length) {
          const batch = queue.slice(next, next + 25);
          next += 25;
          await processInboundEvents(deps, batch)
            .then((os) => outcomes.push(...os.map((o) => o.result)))
            .catch((e: unknown) => errors.push(e));
        }
      }),
    );
    expect(errors).toEqual([]);
    expect(outcomes).toHaveLength(2000);
    expect(outcomes.every((o) => o === 'applied' || o === 'stale')).toBe(true);
    for (const p of payments) {
      expect(await finalState(p.pi)).toMatchObject({
        status: 'partially_refunded',
        captured_amount: String(p.amount),
        refunded_amount: String(Math.floor(p.amount / 2)),
      });
    }
    const check = await checkLedger(db.sql, merchantId);
    expect(check).toMatchObject({ balanced: true, unbalancedTransactions: [], driftedAccounts: [] });
  }, 120_000);
});
