// The portal's read pages over real data, without a browser: payments from signed Stripe events processed as the
// worker does (amounts in major units with the currency's exponent, transitions, ledger entries), inbound events,
// the ledger, the overview's provider table, and paging with the API's cursor (README "The portal").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

const SECRET = 'whsec_portal_pages_test_0123456789';
const ORIGIN = 'http://127.0.0.1:3000';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let merchant: { id: string; apiKey: string };
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  merchant = await aMerchant(deps);
  const login = await app.request(`${ORIGIN}/portal/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ apiKey: merchant.apiKey }).toString(),
  });
  cookie = login.headers.get('set-cookie')!.split(';')[0]!;
});
afterAll(async () => db.drop());

const page = async (path: string) => {
  const res = await app.request(`${ORIGIN}${path}`, { headers: { cookie } });
  return { status: res.status, html: await res.text() };
};

/** Posts a signed Stripe event through the inbound route and processes it as the worker would; its inbound event id. */
async function ingest(sourceId: string, event: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify(event);
  const res = await app.request(`/inbound/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, SECRET, deps.clock()) },
    body,
  });
  expect(res.status).toBe(200);
  const [row] = await db.sql<
    { id: string }[]
  >`select id from gw.inbound_events where source_id = ${sourceId} and event_id = ${event.id as string}`;
  expect((await processInboundEvent(deps, { inboundEventId: row!.id })).result).toBe('applied');
  return row!.id;
}

describe('portal read pages', () => {
  it('shows payments in major units, with their transitions and ledger entries, and the inbound events behind them', async () => {
    const source = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, merchant.apiKey));
    const { id: sourceId } = (await source.json()) as { id: string };
    const usd = await ingest(
      sourceId,
      buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_usd_1', amount: 1099, currency: 'usd' }),
    );
    await ingest(sourceId, buildStripeEvent('payment_intent.succeeded', { paymentIntent: 'pi_jpy_1', amount: 500, currency: 'jpy' }));

    const list = await page('/portal/payments');
    expect(list.status).toBe(200);
    expect(list.html).toContain('10.99 USD');
    expect(list.html).toContain('500 JPY');
    const [payment] = await db.sql<{ id: string }[]>`select id from gw.payments where psp_reference = 'pi_usd_1'`;
    expect((await page('/portal/payments?status=captured&pspReference=pi_jpy_1')).html).not.toContain('pi_usd_1');

    const detail = await page(`/portal/payments/${payment!.id}`);
    expect(detail.status).toBe(200);
    expect(detail.html).toContain('new → <span class="status-pending">pending</span>');
    expect(detail.html).toContain('authorized → <span class="status-captured">captured</span>');
    expect(detail.html).toContain(usd);
    // Amount and captured, then the capture's two ledger entries, one a side.
    expect(detail.html.match(/>10\.99 USD</g)).toHaveLength(4);
    expect(detail.html).toMatch(/<code>psp_receivable<\/code><\/td><td class="num">10\.99 USD<\/td><td class="num"><\/td>/);

    const inbound = await page('/portal/inbound-events?status=processed');
    expect(inbound.html).toContain(usd);
    const raw = await page(`/portal/inbound-events/${usd}`);
    expect(raw.html).toContain('stripe-signature');
    expect(raw.html).toContain('&quot;pi_usd_1&quot;');

    const ledger = await page('/portal/ledger');
    expect(ledger.html).toContain('Ledger check passed');
    expect(ledger.html).toContain('USD');

    const overview = await page('/portal');
    expect(overview.html).toMatch(/<td>stripe<\/td>/);
  });

  it('pages events 50 at a time with the API’s cursor, and answers a bad cursor with a 400 page', async () => {
    for (let i = 0; i < 51; i++) {
      await emitEvent(db.sql, {
        merchantId: merchant.id,
        type: 'portal.paging',
        paymentId: null,
        dedupeKey: `paging-${i}`,
        data: { i },
        at: new Date(),
      });
    }
    const first = await page('/portal/events?type=portal.paging');
    expect(first.html.match(/<tr><td><a href="\/portal\/events\/evt_/g)).toHaveLength(50);
    const next = first.html
      .match(/href="(\/portal\/events\?type=portal.paging&amp;startingAfter=evt_[0-9a-f]{32})"/)![1]!
      .replace('&amp;', '&');
    const second = await page(next);
    expect(second.html.match(/<tr><td><a href="\/portal\/events\/evt_/g)).toHaveLength(1);
    expect(second.html).not.toContain('Next page');

    const bad = await page('/portal/events?startingAfter=zzz');
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('startingAfter');
    expect((await page('/portal/payments/pay_nope')).status).toBe(404);
  });

  it('shows an endpoint’s payload filter on its page, escaped, and "none" without one', async () => {
    const filter = 'data.currency == "EUR" && data.amount >= 10000';
    const created = await app.request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:9/hook', filter }, merchant.apiKey));
    const { id } = (await created.json()) as { id: string };
    const shown = await page(`/portal/endpoints/${id}`);
    expect(shown.status).toBe(200);
    expect(shown.html).toContain(
      '<dt>Filter</dt><dd><code>data.currency == &quot;EUR&quot; &amp;&amp; data.amount &gt;= 10000</code></dd>',
    );
    const plain = await app.request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:9/plain' }, merchant.apiKey));
    const none = await page(`/portal/endpoints/${((await plain.json()) as { id: string }).id}`);
    expect(none.html).toContain('<dt>Filter</dt><dd>none</dd>');
  });
});
