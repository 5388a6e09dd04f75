// applyPaymentReports: what the merchant payments API calls to record an operation it started
// with a PSP (a pending capture with its PSP reference), and how the PSP's webhook completes it.
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { applyPaymentReports } from '../../src/core/payments/apply-event.js';
import { getPayment, listTransitions } from '../../src/core/payments/payment-store.js';
import { paymentView } from '../../src/core/payments/payment-view.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { recordInboundEvent } from '../record-inbound-event.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let deps: Deps;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
});
afterAll(async () => db.drop());

describe('applyPaymentReports', () => {
  it('records a pending capture the API started, posts nothing for it, and posts once when the PSP reports it succeeded; replaying the API call changes nothing', async () => {
    const m = await aMerchant(deps, 'API');
    const res = await testApp(deps).request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'adyen', secret: 'E2D9B84A86AA08CDC0092B44CAB29D791A9CAF30AD62B9E3E4E29120714F73D6' }, m.apiKey),
    );
    const sourceId = ((await res.json()) as { id: string }).id;
    const now = new Date();
    const report = { pspReference: 'PAYX', currency: 'JPY' };

    const [auth] = await db.sql.begin((tx) =>
      applyPaymentReports(
        tx,
        [{ merchantId: m.id, sourceId, cause: 'api:create-1', report: { ...report, kind: 'authorized', amount: new Decimal(5000) } }],
        now,
      ),
    );
    expect(auth).toMatchObject({ result: 'applied', created: true, payment: { status: 'authorized' } });
    const pendingCapture = {
      ...report,
      kind: 'captured' as const,
      operation: { kind: 'capture' as const, reference: 'CAPX', outcome: 'pending' as const, amount: new Decimal(5000) },
    };
    const [pending] = await db.sql.begin((tx) =>
      applyPaymentReports(tx, [{ merchantId: m.id, sourceId, cause: 'api:capture-1', report: pendingCapture }], now),
    );
    expect(pending).toMatchObject({ result: 'stale', payment: { status: 'authorized' } });
    const [again] = await db.sql.begin((tx) =>
      applyPaymentReports(tx, [{ merchantId: m.id, sourceId, cause: 'api:capture-1', report: pendingCapture }], now),
    );
    expect(again).toMatchObject({ result: 'stale' });

    const body = new TextEncoder().encode(
      JSON.stringify({
        eventCode: 'CAPTURE',
        pspReference: 'CAPX',
        originalReference: 'PAYX',
        success: 'true',
        amount: { value: 5000, currency: 'JPY' },
      }),
    );
    const { id } = await db.sql.begin((tx) =>
      recordInboundEvent(tx, { sourceId, merchantId: m.id, eventId: 'capx', eventType: 'CAPTURE', rawBody: body, headers: {} }),
    );
    expect(await processInboundEvent(deps, { inboundEventId: id })).toMatchObject({ result: 'applied', postings: 1 });

    const p = (await getPayment(db.sql, m.id, auth!.payment.id))!;
    expect(paymentView(p)).toMatchObject({ status: 'captured', capturedAmount: 5000, currency: 'JPY' });
    expect((paymentView(p).operations as { pspReference: string; outcome: string; history: { cause: string }[] }[])[1]).toMatchObject({
      pspReference: 'CAPX',
      outcome: 'succeeded',
      history: [{ cause: 'api:capture-1' }, { cause: id }],
    });
    expect((await listTransitions(db.sql, p.id)).map((t) => `${t.from}→${t.to} (${t.cause})`)).toEqual([
      'null→pending (api:create-1)',
      'pending→authorized (api:create-1)',
      `authorized→captured (${id})`,
    ]);
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.ledger_transactions where payment_id = ${p.id}`;
    expect(n!.n).toBe(1);
  });
});
