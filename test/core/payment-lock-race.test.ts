// Two processing transactions on one payment at once: the second waits for the first's row lock, and must then
// see the operations the first committed (READ COMMITTED re-reads the locked row, not the statement's subqueries).
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { applyPaymentReports } from '../../src/core/payments/apply-event.js';
import { getPayment } from '../../src/core/payments/payment-store.js';
import { paymentView } from '../../src/core/payments/payment-view.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

const ADYEN_KEY = 'E2D9B84A86AA08CDC0092B44CAB29D791A9CAF30AD62B9E3E4E29120714F73D6';

async function anAdyenSource(): Promise<{ merchantId: string; sourceId: string }> {
  const m = await aMerchant(deps, 'Race');
  const res = await testApp(deps).request('/v1/sources', jsonRequest('POST', { provider: 'adyen', secret: ADYEN_KEY }, m.apiKey));
  return { merchantId: m.id, sourceId: ((await res.json()) as { id: string }).id };
}

/** Resolves once some backend of this database waits for a lock. */
async function someoneWaitsForALock(): Promise<void> {
  await eventually(
    async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return row!.n > 0 ? true : undefined;
    },
    10_000,
    'a backend waiting for a lock',
  );
}

describe('a payment locked by one transaction while another applies to it', () => {
  it.each([
    // the second waits in its locking select, whose operations subquery saw the table as of its start
    ['one report per transaction', 1],
    // the second waits in its create-if-missing insert, before the locking select takes its snapshot
    ['batches of two payments', 2],
  ])('applies the second transaction on the operations the first committed (%s)', async (_, payments) => {
    const { merchantId, sourceId } = await anAdyenSource();
    const now = new Date();
    const refs = Array.from({ length: payments }, (_, i) => `PAY${i}-${payments}`);
    const report = (
      ref: string,
      kind: 'authorized' | 'captured' | 'refunded',
      op?: { kind: 'capture' | 'refund'; reference: string; amount: number },
    ) => ({
      merchantId,
      sourceId,
      cause: `${kind}:${ref}`,
      report: {
        pspReference: ref,
        currency: 'EUR',
        kind,
        amount: new Decimal(1000),
        ...(op
          ? { operation: { kind: op.kind, reference: op.reference, outcome: 'succeeded' as const, amount: new Decimal(op.amount) } }
          : {}),
      },
    });
    await db.sql.begin((tx) =>
      applyPaymentReports(
        tx,
        refs.map((r) => report(r, 'authorized')),
        now,
      ),
    );

    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let applied!: () => void;
    const firstApplied = new Promise<void>((resolve) => {
      applied = resolve;
    });
    const first = db.sql.begin(async (tx) => {
      const out = await applyPaymentReports(
        tx,
        refs.map((r) => report(r, 'captured', { kind: 'capture', reference: `CAP-${r}`, amount: 1000 })),
        now,
      );
      applied();
      await held; // the payment rows stay locked until the second transaction waits for them
      return out;
    });
    await firstApplied;
    const second = db.sql.begin((tx) =>
      applyPaymentReports(
        tx,
        refs.map((r) => report(r, 'refunded', { kind: 'refund', reference: `REF-${r}`, amount: 300 })),
        now,
      ),
    );
    await someoneWaitsForALock();
    release();
    await first;
    const results = await second;

    for (const r of results) {
      const p = paymentView((await getPayment(db.sql, merchantId, r.payment.id))!);
      expect(p).toMatchObject({ status: 'partially_refunded', capturedAmount: 1000, refundedAmount: 300 });
      expect((p.operations as { kind: string }[]).map((o) => o.kind)).toEqual(['authorization', 'capture', 'refund']);
    }
    const [ledger] = await db.sql<{ debits: string; credits: string }[]>`
      select coalesce(sum(amount) filter (where direction = 'debit'), 0)::text as debits,
             coalesce(sum(amount) filter (where direction = 'credit'), 0)::text as credits
        from gw.ledger_entries e join gw.ledger_accounts a on a.id = e.account_id
       where a.merchant_id = ${merchantId} and a.code = 'psp_receivable'`;
    // psp_receivable: 1000 captured in, 300 refunded out, per payment
    expect(new Decimal(ledger!.debits).minus(ledger!.credits).toNumber()).toBe(700 * payments);
  });
});
