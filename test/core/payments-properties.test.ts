// Properties of the whole processing path against the real database (issue #3's tests,
// on the skeleton's state machine): any order and duplication of a payment's Stripe events
// ends in the same payment and ledger as the events in order, and the ledger sums to zero
// per currency; many workers on shared accounts neither deadlock nor lose an update.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/http/env.js';
import { checkLedger } from '../../src/core/ledger/ledger-store.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { recordInboundEvent } from '../../src/inbound/source-store.js';
import { buildStripeEvent, type SimulatedStripeType } from '../../src/simulate/stripe.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let deps: Deps;
let merchantId: string;
let sourceId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  const m = await aMerchant(deps);
  merchantId = m.id;
  const res = await testApp(deps).request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: 'whsec_properties' }, m.apiKey));
  sourceId = ((await res.json()) as { id: string }).id;
});
afterAll(async () => db.drop());

/** Stores a Stripe event as the inbound route would (already verified) and returns its inbound id. */
async function store(event: Record<string, unknown>): Promise<string> {
  const body = new TextEncoder().encode(JSON.stringify(event));
  const r = await db.sql.begin((tx) =>
    recordInboundEvent(tx, { sourceId, merchantId, eventId: event.id as string, eventType: event.type as string, rawBody: body, headers: {} }),
  );
  return r.id;
}

interface Step {
  type: SimulatedStripeType;
  amountRefunded?: number;
}

async function finalState(pi: string) {
  const [p] = await db.sql<{ status: string; captured_amount: string; refunded_amount: string; currency: string }[]>`
    select status, captured_amount, refunded_amount, currency from gw.payments where source_id = ${sourceId} and psp_reference = ${pi}`;
  return p!;
}

async function ledgerOf(pi: string) {
  return db.sql<{ kind: string; total: string }[]>`
    select t.kind, sum(e.amount) filter (where e.direction = 'debit') as total
      from gw.ledger_transactions t join gw.ledger_entries e on e.transaction_id = t.id
      join gw.payments p on p.id = t.payment_id
     where p.source_id = ${sourceId} and p.psp_reference = ${pi}
     group by t.kind order by t.kind`;
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
      })
      .chain((s) => {
        const steps: Step[] = [];
        if (s.withAuthorization) steps.push({ type: 'payment_intent.amount_capturable_updated' });
        if (s.withFailure) steps.push({ type: 'payment_intent.payment_failed' });
        steps.push({ type: 'payment_intent.succeeded' });
        // cumulative refunds, increasing, never beyond the amount
        let refunded = 0;
        const totalWeight = s.refundParts.reduce((a, b) => a + b, 0) + (s.fullRefund ? 0 : 100);
        for (const part of s.refundParts) {
          refunded = Math.min(s.amount, refunded + Math.max(1, Math.floor((s.amount * part) / Math.max(1, totalWeight))));
          steps.push({ type: 'charge.refunded', amountRefunded: refunded });
        }
        if (s.fullRefund) steps.push({ type: 'charge.refunded', amountRefunded: s.amount });
        const indices = fc.array(fc.integer({ min: 0, max: steps.length - 1 }), { maxLength: steps.length });
        return fc.tuple(fc.constant(s), fc.constant(steps), fc.shuffledSubarray(steps.map((_, i) => i), { minLength: steps.length }), indices);
      });

    await fc.assert(
      fc.asyncProperty(scenario, async ([s, steps, order, duplicates]) => {
        run += 1;
        const inOrder = `pi_sorted_${run}`;
        const shuffled = `pi_shuffled_${run}`;
        const events = (pi: string) =>
          steps.map((st) =>
            buildStripeEvent(st.type, { paymentIntent: pi, amount: s.amount, currency: s.currency, ...(st.amountRefunded !== undefined ? { amountRefunded: st.amountRefunded } : {}) }),
          );
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

describe('many workers on one merchant’s shared accounts', () => {
  it('process 2,000 events over 200 payments with 8 workers at once: no deadlock, balances equal the sums of entries', async () => {
    const payments = Array.from({ length: 200 }, (_, i) => ({ pi: `pi_concurrent_${i}`, amount: 1000 + i }));
    const ids: string[] = [];
    for (const p of payments) {
      const evs = [
        buildStripeEvent('payment_intent.amount_capturable_updated', { paymentIntent: p.pi, amount: p.amount }),
        buildStripeEvent('payment_intent.succeeded', { paymentIntent: p.pi, amount: p.amount }),
        ...[1, 2, 3, 4, 5, 6, 7, 8].map((k) => buildStripeEvent('charge.refunded', { paymentIntent: p.pi, amount: p.amount, amountRefunded: Math.floor((p.amount * k) / 16) })),
      ];
      for (const e of evs) ids.push(await store(e));
    }
    expect(ids).toHaveLength(2000);
    // shuffle deterministically, then 8 concurrent workers drain the list
    const queue = fc.sample(fc.shuffledSubarray(ids, { minLength: ids.length }), { numRuns: 1, seed: 42 })[0]!;
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
      expect(s).toMatchObject({ status: 'partially_refunded', captured_amount: String(p.amount), refunded_amount: String(Math.floor(p.amount / 2)) });
    }
    const check = await checkLedger(db.sql, merchantId);
    expect(check).toMatchObject({ balanced: true, unbalancedTransactions: [], driftedAccounts: [] });
  }, 120_000);
});
