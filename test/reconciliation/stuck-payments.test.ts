// Payments left pending (issue #17 item 8): listed past the source's settling time, named once, asked of Stripe
// through the connector's status read (Adyen: listed only); and the reconciliation settings route that sets the times.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { adyenSimulator, stripeSimulator } from '../../src/dev/simulators/index.js';
import { checkStuckPayments } from '../../src/payments-api/stuck-payments.task.js';
import { paymentsApiCronItems } from '../../src/payments-api/tasks.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { expectEventsMatchCatalogue } from '../event-catalogue.js';
import { aMerchant, jsonRequest, testDeps } from '../app.js';
import { ADYEN_BASE, aShop, apps, command, commandOptions, getJson, STRIPE_BASE, type Shop } from '../payments-api/harness.js';

const STRIPE_SECRET = 'whsec_stuck_payments_0123456789';
const SK = 'sk_test_stuck_0123456789';
const HMAC_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

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
  await db.drop();
});

/** deps whose clock reads `seconds` from now. */
const later = (seconds: number): Deps => ({ ...deps, clock: () => new Date(Date.now() + seconds * 1000) });

async function settings(shop: Shop, body: unknown): Promise<Response> {
  return app.request(`/v1/reconciliation/sources/${shop.sourceId}`, jsonRequest('PATCH', body, shop.apiKey));
}

interface Stuck {
  paymentId: string;
  status: string;
  checkedAt: string | null;
  pspStatus: string | null;
  detail: string;
  resolvedAt: string | null;
  resolvedStatus: string | null;
}

async function stuckOf(shop: Shop, query = ''): Promise<Stuck[]> {
  return (await getJson<{ data: Stuck[] }>(app, shop, `/v1/reconciliation/stuck-payments${query}`)).data;
}

async function mismatchEvents(shop: Shop): Promise<Record<string, unknown>[]> {
  const rows = await db.sql<{ payload: Buffer }[]>`
    select p.payload from gw.events e join gw.event_payloads p on p.event_id = e.id
     where e.merchant_id = ${shop.merchantId} and e.type = 'reconciliation.mismatch' order by e.id`;
  return rows.map((r) => (JSON.parse(r.payload.toString('utf8')) as { data: Record<string, unknown> }).data);
}

describe('reconciliation settings of a source', () => {
  it('sets the settlement delay and the settling time, stores report credentials sealed and never returns them', async () => {
    const shop = await aShop(deps, app, { provider: 'adyen', secret: HMAC_KEY, apiKey: 'AQE_key', apiBaseUrl: ADYEN_BASE });
    expect(await getJson(app, shop, `/v1/reconciliation/sources/${shop.sourceId}`)).toEqual({
      sourceId: shop.sourceId,
      settlementDelaySeconds: 604_800,
      stuckAfterSeconds: 3600,
      hasReportCredentials: false,
    });
    const res = await settings(shop, {
      settlementDelaySeconds: 86_400,
      stuckAfterSeconds: 600,
      reportCredentials: { username: 'report@Company.X', password: 'hunter2-report' },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text)).toEqual({
      sourceId: shop.sourceId,
      settlementDelaySeconds: 86_400,
      stuckAfterSeconds: 600,
      hasReportCredentials: true,
    });
    const [row] = await db.sql<
      { sealed: string }[]
    >`select report_credentials_ciphertext as sealed from gw.sources where id = ${shop.sourceId}`;
    expect(row!.sealed).not.toContain('hunter2');
    expect(JSON.parse(await deps.secretBox.decrypt(row!.sealed))).toEqual({ username: 'report@Company.X', password: 'hunter2-report' });
    // a field left out stays; null removes the credentials
    expect(await (await settings(shop, { reportCredentials: null })).json()).toMatchObject({
      settlementDelaySeconds: 86_400,
      hasReportCredentials: false,
    });
  });

  it('answers 400 for a value out of range or an unknown field, and 404 for another merchant’s source', async () => {
    const shop = await aShop(deps, app, { provider: 'stripe', secret: STRIPE_SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
    for (const body of [
      { stuckAfterSeconds: 5 },
      { settlementDelaySeconds: -1 },
      { colour: 'red' },
      { reportCredentials: { username: 'u' } },
    ]) {
      const res = await settings(shop, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'invalid_request' });
    }
    const other = await aMerchant(deps, 'Other shop');
    const res = await app.request(
      `/v1/reconciliation/sources/${shop.sourceId}`,
      jsonRequest('PATCH', { stuckAfterSeconds: 600 }, other.apiKey),
    );
    expect(res.status).toBe(404);
    expect(
      (await app.request(`/v1/reconciliation/sources/${shop.sourceId}`, { headers: { authorization: `Bearer ${other.apiKey}` } })).status,
    ).toBe(404);
  });
});

describe('stuck payments', () => {
  it('lists a Stripe payment pending past the settling time, names it once, asks Stripe, and applies what Stripe says', async () => {
    const shop = await aShop(deps, app, { provider: 'stripe', secret: STRIPE_SECRET, apiKey: SK, apiBaseUrl: STRIPE_BASE });
    const sim = stripeSimulator({ baseUrl: STRIPE_BASE, apiKey: SK });
    server.use(...sim.handlers);
    expect((await settings(shop, { stuckAfterSeconds: 60 })).status).toBe(200);
    // created without a payment method: Stripe keeps it requires_payment_method, the payment stays pending
    const res = await commands.request(
      '/v1/payments',
      command(shop, 'stuck-1', { amount: 2500, currency: 'usd', sourceId: shop.sourceId, merchantReference: 'stuck-1' }),
    );
    const created = (await res.json()) as { id: string; status: string; pspReference: string };
    expect(created.status).toBe('pending');

    expect(await checkStuckPayments(later(30), commandOptions)).toEqual({ found: 0, asked: 0, resolved: 0 });
    expect(await checkStuckPayments(later(120), commandOptions)).toEqual({ found: 1, asked: 1, resolved: 0 });
    const [open] = await stuckOf(shop, '?state=open');
    expect(open).toMatchObject({ paymentId: created.id, status: 'pending', pspStatus: 'pending', resolvedAt: null });
    expect(open!.detail).toContain('still pending there');
    // asked again only after a while; named once whatever the runs
    expect(await checkStuckPayments(later(180), commandOptions)).toEqual({ found: 0, asked: 0, resolved: 0 });

    // the payment succeeded at Stripe and its webhook was lost
    const pi = sim.paymentIntents.get(created.pspReference)!;
    Object.assign(pi, { status: 'succeeded', amount_received: pi.amount, latest_charge: 'ch_lost_webhook' });
    expect(await checkStuckPayments(later(120 + 16 * 60), commandOptions)).toEqual({ found: 0, asked: 1, resolved: 1 });
    expect(await getJson(app, shop, `/v1/payments/${created.id}`)).toMatchObject({ status: 'captured', capturedAmount: 2500 });
    const [resolved] = await stuckOf(shop, '?state=resolved');
    expect(resolved).toMatchObject({ paymentId: created.id, status: 'captured', pspStatus: 'captured', resolvedStatus: 'captured' });
    expect(await stuckOf(shop, '?state=open')).toEqual([]);
    const events = await mismatchEvents(shop);
    expect(events).toEqual([
      expect.objectContaining({ result: 'stuckPayment', paymentId: created.id, pspReference: created.pspReference }),
    ]);
    // its data is the catalogue's stuckPayment shape of reconciliation.mismatch
    expect((await expectEventsMatchCatalogue(db.sql))['reconciliation.mismatch']).toBeGreaterThanOrEqual(1);
    expect(sim.calls.filter((c) => c.method === 'GET')).toHaveLength(2);
  });

  it('lists an Adyen payment without asking (Adyen documents no payment status read)', async () => {
    const shop = await aShop(deps, app, {
      provider: 'adyen',
      secret: HMAC_KEY,
      apiKey: 'AQE_key',
      apiBaseUrl: ADYEN_BASE,
      merchantAccount: 'M',
    });
    const sim = adyenSimulator({ baseUrl: ADYEN_BASE, apiKey: 'AQE_key' });
    server.use(...sim.handlers);
    sim.failNext({ mode: 'timeout', afterEffect: false, delayMs: 1500 });
    const res = await commands.request(
      '/v1/payments',
      command(shop, 'ady-stuck', {
        amount: 4200,
        currency: 'EUR',
        sourceId: shop.sourceId,
        merchantReference: 'ady-stuck',
        captureMethod: 'manual',
        paymentMethod: { type: 'scheme', holderName: 'APPROVED' },
      }),
    );
    expect(res.status).toBe(202);
    const created = (await res.json()) as { id: string };
    const run = await checkStuckPayments(later(2 * 3600), commandOptions);
    expect(run.found).toBeGreaterThanOrEqual(1);
    const [listed] = (await stuckOf(shop)).filter((s) => s.paymentId === created.id);
    expect(listed).toMatchObject({ status: 'pending', checkedAt: null, pspStatus: null });
    expect(listed!.detail).toContain('adyen documents no payment status read');
    expect(sim.calls.filter((c) => c.method === 'GET')).toHaveLength(0);
    expect(await mismatchEvents(shop)).toHaveLength(1);
  });

  it('runs every 5 minutes as a cron item', () => {
    expect(paymentsApiCronItems().find((i) => i.task === 'check_stuck_payments')).toMatchObject({ identifier: 'check_stuck_payments' });
  });
});
