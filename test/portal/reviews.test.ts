// The portal's review queue in a real Chromium: payments a rule put in review (by webhook) are listed; approve one,
// reject the other with a reason (its source has no PSP apiKey: refund_required), the status filter reloads the table
// through htmx, and a session without the `reviews` capability sees no decision buttons (README "Risk rules").
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { signStripe } from '../../src/inbound/verifiers/testing.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { launchChromium, screenshot, startGateway } from './browser.js';

const SECRET = 'whsec_portal_reviews_0123456789abcd';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let browser: Browser;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let merchant: { id: string; apiKey: string };
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  gateway = await startGateway(deps);
  browser = await launchChromium();
  merchant = await aMerchant(deps, 'Review Shop');
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await gateway?.close();
  await db?.drop();
});

async function reviewedPayment(sourceId: string, pi: string): Promise<void> {
  const body = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 5000 }));
  const res = await app.request(`/inbound/${sourceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, SECRET, deps.clock()) },
    body,
  });
  expect(res.status).toBe(200);
  const [row] = await db.sql<{ id: string }[]>`select id from gw.inbound_events where source_id = ${sourceId} order by id desc limit 1`;
  expect((await processInboundEvent(deps, { inboundEventId: row!.id })).result).toBe('applied');
}

describe('the portal review queue in Chromium', () => {
  it('lists open reviews, approves one and rejects the other with a reason; the status filter reloads the table', async () => {
    const source = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, merchant.apiKey));
    const { id: sourceId } = (await source.json()) as { id: string };
    const rule = await app.request(
      '/v1/risk/rules',
      jsonRequest('POST', { name: 'Everything by webhook', action: 'review', expression: 'amount > 0' }, merchant.apiKey),
    );
    expect(rule.status).toBe(201);
    await reviewedPayment(sourceId, 'pi_review_a');
    await reviewedPayment(sourceId, 'pi_review_b');
    const payments = await db.sql<{ id: string; psp_reference: string }[]>`
      select id, psp_reference from gw.payments where merchant_id = ${merchant.id} order by psp_reference`;

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${gateway.origin}/portal/login`);
    await page.getByLabel('API key').fill(merchant.apiKey);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${gateway.origin}/portal`);
    await page.getByRole('link', { name: 'Reviews' }).click();
    await page.waitForURL(`${gateway.origin}/portal/reviews`);
    const rows = page.locator('#review-results tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.first().textContent()).toContain('Everything by webhook');
    await screenshot(page, 'reviews-open');

    const rowOf = (paymentId: string) => rows.filter({ hasText: paymentId });
    await rowOf(payments[0]!.id).getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/notice=approved$/);
    expect(await page.getByRole('status').textContent()).toContain('Review approved.');
    expect(await rows.count()).toBe(1);

    const other = rowOf(payments[1]!.id);
    await other.getByRole('textbox').fill('stolen card, confirmed by the issuer');
    await other.getByRole('button', { name: 'Reject' }).click();
    await page.waitForURL(/notice=rejected$/);
    expect(await rows.count()).toBe(0);

    // the filter swaps the table in place (htmx) and pushes the URL
    await page.getByLabel('Status').selectOption('rejected');
    await page.waitForURL(/status=rejected/);
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('refund_required');
    expect(await rows.first().getByRole('button').count()).toBe(0);
    await screenshot(page, 'reviews-rejected');

    const reviews = await db.sql<{ status: string; reason: string | null; compensation: string | null }[]>`
      select status, reason, compensation from gw.reviews where merchant_id = ${merchant.id} order by payment_id`;
    expect(reviews).toEqual([
      { status: 'approved', reason: null, compensation: null },
      { status: 'rejected', reason: 'stolen card, confirmed by the issuer', compensation: 'refund_required' },
    ]);
    await page.close();
  });

  it('a session without the reviews capability sees the queue but no decision buttons, and a decision is refused', async () => {
    const link = await app.request('/v1/portal/sessions', jsonRequest('POST', { capabilities: ['read'] }, merchant.apiKey));
    expect(link.status).toBe(201);
    const { url } = (await link.json()) as { url: string };
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${gateway.origin}${new URL(url).pathname}`);
    await page.getByRole('button', { name: 'Open the portal' }).click();
    await page.waitForURL(`${gateway.origin}/portal`);
    await page.goto(`${gateway.origin}/portal/reviews?status=approved`);
    expect(await page.locator('#review-results tbody tr').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    const [open] = await db.sql<{ id: string }[]>`select id from gw.reviews where merchant_id = ${merchant.id} and status = 'approved'`;
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const status = await page.evaluate(
      async ([id, token]) => {
        const res = await fetch(`/portal/reviews/${id}/reject`, {
          method: 'POST',
          headers: { 'x-csrf-token': token!, 'content-type': 'application/x-www-form-urlencoded' },
          body: `key=${'0'.repeat(32)}&reason=no`,
        });
        return res.status;
      },
      [open!.id, csrf] as const,
    );
    expect(status).toBe(403);
    await page.close();
  });
});
