import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { adyenSimulator, type AdyenSimulator } from '../../src/dev/simulators/index.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { testDeps } from '../app.js';
import { ADYEN_BASE, aShop, apps, command, getJson, ledgerOf, processReceived, type Shop } from './harness.js';

const HMAC_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
const API_KEY = 'AQE_simulated_adyen_key';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof apps>['app'];
let commands: ReturnType<typeof apps>['commands'];
const server = setupServer();

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  ({ app, commands } = apps(deps));
  server.listen({ onUnhandledRequest: 'error' });
});
afterEach(() => server.resetHandlers());
afterAll(async () => {
  server.close();
  // Every event the payments API flows emitted is valid against the published event catalogue.
  await expectEventsMatchCatalogue(db.sql);
  await db.drop();
});

async function adyenShop(): Promise<{ shop: Shop; sim: AdyenSimulator }> {
  const shop = await aShop(deps, app, {
    provider: 'adyen',
    secret: HMAC_KEY,
    apiKey: API_KEY,
    apiBaseUrl: ADYEN_BASE,
    merchantAccount: 'SwitchyardECOM',
  });
  const sim = adyenSimulator({
    baseUrl: ADYEN_BASE,
    apiKey: API_KEY,
    webhooks: { url: shop.inboundUrl, secret: HMAC_KEY, delivery: 'manual', send: async (r) => app.request(r) },
  });
  server.use(...sim.handlers);
  return { shop, sim };
}

describe('payments through the Adyen simulator', () => {
  it('authorizes, captures by webhook, refunds by webhook; the ledger balances', async () => {
    const { shop, sim } = await adyenShop();
    const body = {
      amount: 5000,
      currency: 'EUR',
      sourceId: shop.sourceId,
      merchantReference: 'ady-1',
      captureMethod: 'manual',
      paymentMethod: { type: 'scheme', holderName: 'APPROVED' },
    };
    const res = await commands.request('/v1/payments', command(shop, 'ady-1', body));
    expect(res.status).toBe(201);
    const created = (await res.json()) as Record<string, any>;
    expect(created).toMatchObject({ status: 'authorized', amount: 5000, currency: 'EUR', operation: { status: 'succeeded' } });
    expect(sim.calls[0]!.idempotencyKey).toHaveLength(64);

    const cap = await commands.request(`/v1/payments/${created.id}/capture`, command(shop, 'ady-1-cap'));
    expect(cap.status).toBe(200);
    // Adyen answers a modification "received": the payment moves when the webhook comes
    expect(await cap.json()).toMatchObject({ status: 'authorized', operation: { kind: 'capture', status: 'submitted', amount: 5000 } });
    const operationStatuses = async () =>
      (
        await db.sql<
          { kind: string; status: string }[]
        >`select kind, status from gw.psp_operations where payment_id = ${created.id} order by id`
      ).map((o) => `${o.kind}:${o.status}`);
    expect(await operationStatuses()).toEqual(['create:succeeded', 'capture:submitted']);
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['stale', 'applied']);
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({ status: 'captured', capturedAmount: 5000 });
    // the CAPTURE webhook names the capture's own pspReference: the operation is settled by it
    expect(await operationStatuses()).toEqual(['create:succeeded', 'capture:succeeded']);

    const refund = await commands.request(`/v1/payments/${created.id}/refunds`, command(shop, 'ady-1-ref'));
    expect(refund.status).toBe(200);
    expect(await refund.json()).toMatchObject({ operation: { kind: 'refund', status: 'submitted', amount: 5000 } });
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({ status: 'refunded', refundedAmount: 5000 });
    expect(await operationStatuses()).toEqual(['create:succeeded', 'capture:succeeded', 'refund:succeeded']);
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([
      { kind: 'capture', amount: '5000' },
      { kind: 'refund', amount: '5000' },
    ]);
    expect((await getJson<{ balanced: boolean }>(app, shop, '/v1/ledger/check')).balanced).toBe(true);
    expect(sim.calls.map((c) => c.replayed)).toEqual([false, false, false]);
  });

  it("links the AUTHORISATION webhook to a payment whose creation timed out, by the operation in the request's metadata (additionalData metadata.switchyard_op)", async () => {
    const { shop, sim } = await adyenShop();
    sim.failNext({ mode: 'timeout', delayMs: 1500 }); // Adyen authorises, but answers too late
    const body = {
      amount: 4200,
      currency: 'EUR',
      sourceId: shop.sourceId,
      merchantReference: 'ady-timeout',
      captureMethod: 'manual',
      paymentMethod: { type: 'scheme', holderName: 'APPROVED' },
    };
    const res = await commands.request('/v1/payments', command(shop, 'ady-timeout', body));
    expect(res.status).toBe(202);
    const created = (await res.json()) as Record<string, any>;
    expect(created.pspReference).toMatch(/^pending:pop_/);

    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['applied']);
    const [payment] = [...sim.payments.values()];
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({
      status: 'authorized',
      amount: 4200,
      pspReference: payment!.pspReference,
    });
    const rows = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.payments where merchant_id = ${shop.merchantId}`;
    expect(rows[0]!.n).toBe(1);
  });

  it("refuses metadata beyond Adyen's limits with 400 invalid_request before the key is claimed, so the corrected request may reuse the key", async () => {
    const { shop, sim } = await adyenShop();
    const body = (metadata: Record<string, string>) => ({
      amount: 1200,
      currency: 'EUR',
      sourceId: shop.sourceId,
      merchantReference: 'ady-meta',
      captureMethod: 'manual',
      paymentMethod: { type: 'scheme', holderName: 'APPROVED' },
      metadata,
    });
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await commands.request('/v1/payments', command(shop, 'ady-meta', body(twenty)));
    expect(tooMany.status).toBe(400);
    const problem = (await tooMany.json()) as { code: string; errors: { path: unknown[]; message: string }[] };
    expect(problem.code).toBe('invalid_request');
    expect(problem.errors).toEqual([{ path: ['metadata'], message: 'at most 19 keys (adyen allows 20, Switchyard uses 1)' }]);

    const longKey = await commands.request(
      '/v1/payments',
      command(shop, 'ady-meta', body({ a_key_longer_than_twenty: 'v', switchyard_op: 'mine', v: 'x'.repeat(81) })),
    );
    expect(longKey.status).toBe(400);
    expect(((await longKey.json()) as { errors: { path: unknown[] }[] }).errors.map((e) => e.path)).toEqual([
      ['metadata', 'a_key_longer_than_twenty'],
      ['metadata', 'switchyard_op'],
      ['metadata', 'v'],
    ]);
    expect(sim.calls).toHaveLength(0);

    const fixed = await commands.request('/v1/payments', command(shop, 'ady-meta', body({ cart: '42' })));
    expect(fixed.status).toBe(201);
    expect(sim.calls).toHaveLength(1);
  });

  it('fails a payment refused for the holder name DECLINED, and posts nothing', async () => {
    const { shop, sim } = await adyenShop();
    const body = {
      amount: 700,
      currency: 'EUR',
      sourceId: shop.sourceId,
      merchantReference: 'ady-2',
      paymentMethod: { type: 'scheme', holderName: 'DECLINED' },
    };
    const res = await commands.request('/v1/payments', command(shop, 'ady-2', body));
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ status: 'failed', operation: { status: 'failed', failureMessage: 'Refused' } });
    await sim.webhooks.flush();
    expect(await processReceived(deps, shop.sourceId)).toEqual(['stale']);
    expect(await ledgerOf(deps, shop.merchantId)).toEqual([]);
    expect(sim.calls).toHaveLength(1);
  });

  it('refuses a source without apiKey with 422 psp_not_configured', async () => {
    const m = await aShop(deps, app, { provider: 'adyen', secret: HMAC_KEY, apiKey: API_KEY, apiBaseUrl: ADYEN_BASE });
    await db.sql`update gw.sources set api_key_ciphertext = null where id = ${m.sourceId}`;
    const res = await commands.request(
      '/v1/payments',
      command(m, 'nokey', { amount: 1, currency: 'EUR', sourceId: m.sourceId, merchantReference: 'x' }),
    );
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'psp_not_configured' });
  });
});
