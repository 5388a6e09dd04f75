// GET /v1/payments/{id}/operations (src/payments-api/routes/operations.ts), mounted here the way
// the lead mounts it in createApp: behind requireMerchant, beside the payment routes.
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireMerchant } from '../../src/core/auth/middleware.js';
import type { AppEnv, Deps } from '../../src/core/deps.js';
import { onError } from '../../src/core/http/problem.js';
import { requestContext } from '../../src/core/http/request-context.js';
import { operationRoutes } from '../../src/payments-api/routes/operations.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { recordInboundEvent } from '../record-inbound-event.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let deps: Deps;
let app: Hono<AppEnv>;
beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = new Hono<AppEnv>();
  app.use(
    '*',
    requestContext(() => deps),
  );
  app.onError(onError);
  app.use('/v1/*', requireMerchant());
  app.route('/v1/payments', operationRoutes());
});
afterAll(async () => db.drop());

describe('GET /v1/payments/{id}/operations', () => {
  it("lists a payment's operations with their history, flags an over-refund, and answers 404 to another merchant", async () => {
    const owner = await aMerchant(deps, 'Owner');
    const other = await aMerchant(deps, 'Other');
    const res = await testApp(deps).request(
      '/v1/sources',
      jsonRequest('POST', { provider: 'adyen', secret: 'CD91938D295110C8612215C33FA8EF8A7D730E035C5F8DAB9B8D546DE7C26F1D' }, owner.apiKey),
    );
    const sourceId = ((await res.json()) as { id: string }).id;
    let paymentId = '';
    const items = [
      { eventCode: 'CAPTURE', pspReference: 'CAP1', originalReference: 'PAY1', amount: { value: 5000, currency: 'KWD' } },
      { eventCode: 'REFUND', pspReference: 'REF1', originalReference: 'PAY1', amount: { value: 4000, currency: 'KWD' } },
      { eventCode: 'REFUND', pspReference: 'REF2', originalReference: 'PAY1', amount: { value: 2500, currency: 'KWD' } },
    ];
    for (const [i, item] of items.entries()) {
      const body = new TextEncoder().encode(JSON.stringify({ success: 'true', ...item }));
      const { id } = await db.sql.begin((tx) =>
        recordInboundEvent(tx, {
          sourceId,
          merchantId: owner.id,
          eventId: `ops-${i}`,
          eventType: item.eventCode,
          rawBody: body,
          headers: {},
        }),
      );
      const outcome = await processInboundEvent(deps, { inboundEventId: id });
      paymentId = (outcome as { paymentId: string }).paymentId;
    }

    const ok = await app.request(`/v1/payments/${paymentId}/operations`, { headers: { authorization: `Bearer ${owner.apiKey}` } });
    expect(ok.status).toBe(200);
    const { data } = (await ok.json()) as {
      data: { kind: string; pspReference: string; amount: number; outcome: string; flagReason: string | null }[];
    };
    expect(data.map((o) => [o.kind, o.pspReference, o.amount, o.outcome])).toEqual([
      ['capture', 'CAP1', 5000, 'succeeded'],
      ['refund', 'REF1', 4000, 'succeeded'],
      ['refund', 'REF2', 2500, 'flagged'],
    ]);
    expect(data[2]!.flagReason).toContain('1500');

    const notYours = await app.request(`/v1/payments/${paymentId}/operations`, { headers: { authorization: `Bearer ${other.apiKey}` } });
    expect(notYours.status).toBe(404);
    expect(await notYours.json()).toMatchObject({ code: 'not_found' });
  });
});
