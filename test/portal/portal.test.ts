// The merchant portal in a real Chromium (Debian's, driven by playwright-core) against a gateway on the test database:
// log in, create an endpoint and see its secret once, a failing receiver's attempts with their response bodies, replay
// once it is fixed, the chart, a read-only portal link, escaped payloads, another merchant's 404, logout; and /docs
// rendering its operations with every request off this machine refused (README "The portal", issue 19).
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { deliverMessage } from '../../src/outbound/deliver.task.js';
import { aMerchant, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { launchChromium, screenshot, startGateway, startScriptedReceiver } from './browser.js';

let db: TestDatabase;
let deps: Deps;
let browser: Browser;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let receiver: Awaited<ReturnType<typeof startScriptedReceiver>>;
let merchantA: { id: string; apiKey: string };
let merchantB: { id: string; apiKey: string };
let contextA: BrowserContext;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  gateway = await startGateway(deps);
  receiver = await startScriptedReceiver();
  browser = await launchChromium();
  merchantA = await aMerchant(deps, 'Acme Books');
  merchantB = await aMerchant(deps, 'Other Shop');
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await receiver?.close();
  await gateway?.close();
  await db?.drop();
});

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  return context;
}

/** Logs `apiKey` in through the login form in a new context; returns the context, on the overview. */
async function loggedIn(apiKey: string): Promise<BrowserContext> {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto(`${gateway.origin}/portal/login`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${gateway.origin}/portal`);
  await page.close();
  return context;
}

let dedupe = 0;
/** Emits one event to merchant A's subscribed endpoints; its id and single message id. */
async function emitToA(data: Record<string, unknown>) {
  const emitted = await emitEvent(db.sql, {
    merchantId: merchantA.id,
    type: 'payment.captured',
    paymentId: null,
    dedupeKey: `portal-test-${++dedupe}`,
    data,
    at: new Date(),
  });
  expect(emitted?.messageIds).toHaveLength(1);
  return { eventId: emitted!.eventId, messageId: emitted!.messageIds[0]! };
}

/** Makes the message's next attempt now, as the worker would. */
async function deliverNext(messageId: string) {
  const [m] = await db.sql<{ attempts: number }[]>`select attempts from gw.messages where id = ${messageId}`;
  await deliverMessage(deps, { messageId, attempt: m!.attempts + 1 });
}

describe('the merchant portal in Chromium', () => {
  let endpointId: string;
  let failedEventId: string;
  let failedMessageId: string;

  it('logs in with an API key into an httpOnly, SameSite=Strict session cookie; a wrong key is refused', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const login = await page.goto(`${gateway.origin}/portal/login`);
    expect(login!.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(login!.headers()['content-security-policy']).not.toContain('unsafe-inline');
    await screenshot(page, 'login');

    await page.getByLabel('API key').fill('sk_not_a_real_key');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');

    await page.getByLabel('API key').fill(merchantA.apiKey);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${gateway.origin}/portal`);
    expect(await page.locator('h1').textContent()).toBe('Overview');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'switchyard_portal', httpOnly: true, sameSite: 'Strict', secure: false, path: '/portal' });
    const hours = (cookie!.expires * 1000 - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(11.9);
    expect(hours).toBeLessThanOrEqual(12);
    contextA = context;
  });

  it('creates an endpoint and shows its signing secret once', async () => {
    receiver.answer.status = 500;
    receiver.answer.body = 'upstream exploded: <script>window.__xss = "body"</script>"><img src=x id=xss-body onerror="window.__xss = 1">';
    const page = await contextA.newPage();
    await page.goto(`${gateway.origin}/portal/endpoints`);
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByLabel('Description').fill('"><img src=x id=xss-desc onerror="window.__xss = 2">');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.waitForURL(`${gateway.origin}/portal/endpoints`);
    const secret = (await page.locator('#secret').textContent())!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    await screenshot(page, 'endpoint-created');

    await page.getByRole('link', { name: /Go to the endpoint/ }).click();
    endpointId = page.url().split('/').at(-1)!;
    expect(endpointId).toMatch(/^ep_/);
    expect(await page.content()).not.toContain(secret);
    expect(await page.locator('#xss-desc').count()).toBe(0);
    expect(await page.locator('main').textContent()).toContain('"><img src=x id=xss-desc');
    await screenshot(page, 'endpoint');
    await page.close();
  });

  it('shows a 500 receiver’s failed attempts with the response body, escaped, and replays once it is fixed', async () => {
    const { eventId, messageId } = await emitToA({
      paymentId: 'pay_x',
      note: "<script>window.__xss = 'payload'</script>",
      attr: '"><img src=x id=xss-payload onerror="window.__xss = 3">',
    });
    failedEventId = eventId;
    failedMessageId = messageId;
    await deliverNext(messageId);
    await deliverNext(messageId);

    const page = await contextA.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${gateway.origin}/portal/events/${eventId}`);
    const attempts = page.locator('table.attempts tbody tr');
    expect(await attempts.count()).toBe(2);
    for (const row of await attempts.all()) {
      expect(await row.textContent()).toContain('failed');
      expect(await row.textContent()).toContain('500');
      expect(await row.locator('pre.response-body').textContent()).toBe(receiver.answer.body);
    }
    // The payload and the body are shown as text: no element made from them, no script run.
    expect(await page.locator('pre.payload').textContent()).toContain("<script>window.__xss = 'payload'</script>");
    expect(await page.locator('#xss-payload, #xss-body').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(dialogs).toEqual([]);
    await screenshot(page, 'event-failed');

    receiver.answer.status = 200;
    receiver.answer.body = 'thanks';
    await page.getByRole('button', { name: `Replay to ${receiver.url}` }).click();
    await page.waitForURL(/replayed=1$/);
    await deliverNext(messageId);
    // The deliveries section reloads itself (htmx, every 3 s) while the message is pending.
    await expect.poll(() => page.locator('table.attempts tbody tr').count(), { timeout: 15_000 }).toBe(3);
    const third = page.locator('table.attempts tbody tr').nth(2);
    expect(await third.textContent()).toContain('succeeded');
    expect(await third.locator('pre.response-body').textContent()).toBe('thanks');
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    await screenshot(page, 'event-replayed');
    await page.close();
  });

  it('draws the delivery chart with data points in the last hour', async () => {
    const page = await contextA.newPage();
    await page.goto(`${gateway.origin}/portal`);
    const chart = page.locator('#deliveries-chart[data-drawn="1"]');
    await chart.waitFor();
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
    const box = await chart.locator('canvas').first().boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    expect(Number(await chart.getAttribute('data-points-last-hour'))).toBeGreaterThan(0);
    expect(await page.locator('table.health').textContent()).toContain(receiver.url);
    await screenshot(page, 'overview');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'overview-390');
    await page.close();
  });

  it('renders the payments, inbound events and ledger pages', async () => {
    const page = await contextA.newPage();
    for (const [path, heading] of [
      ['/portal/payments', 'Payments'],
      ['/portal/inbound-events', 'Inbound events'],
      ['/portal/ledger', 'Ledger'],
      ['/portal/events?type=payment.captured', 'Events'],
    ] as const) {
      const res = await page.goto(`${gateway.origin}${path}`);
      expect(res!.status()).toBe(200);
      expect(await page.locator('h1').textContent()).toBe(heading);
      await screenshot(page, heading.toLowerCase().replace(/ /g, '-'));
    }
    expect(await page.locator('#event-results tbody tr').count()).toBe(1);
    await page.close();
  });

  it('opens a read-only portal link once; its session cannot replay', async () => {
    const res = await fetch(`${gateway.origin}/v1/portal/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${merchantA.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ capabilities: ['read'] }),
    });
    expect(res.status).toBe(201);
    const { url } = (await res.json()) as { url: string; expiresAt: string };
    expect(url.startsWith(`${gateway.origin}/portal/sessions/`)).toBe(true);

    const context = await newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.getByRole('button', { name: 'Open the portal' }).click();
    await page.waitForURL(`${gateway.origin}/portal`);
    await page.goto(`${gateway.origin}/portal/events/${failedEventId}`);
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    // The session's own CSRF token, so only the capability check stands in the way.
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const forged = await page.evaluate(
      async ([id, token]) => {
        const r = await fetch(`/portal/events/${id}/replay`, { method: 'POST', headers: { 'x-csrf-token': token! } });
        return { status: r.status, text: await r.text() };
      },
      [failedEventId, csrf] as const,
    );
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('lacks the &quot;replay&quot; capability');
    const [m] = await db.sql<
      { status: string; attempts: number }[]
    >`select status, attempts from gw.messages where id = ${failedMessageId}`;
    expect(m).toEqual({ status: 'succeeded', attempts: 3 });

    const again = await (await newContext()).newPage();
    await again.goto(url);
    await again.getByRole('button', { name: 'Open the portal' }).click();
    expect(await again.locator('[role="alert"]').textContent()).toContain('not valid');
  });

  it('shows a second merchant a 404 page for the first one’s event and endpoint', async () => {
    const context = await loggedIn(merchantB.apiKey);
    const page = await context.newPage();
    const event = await page.goto(`${gateway.origin}/portal/events/${failedEventId}`);
    expect(event!.status()).toBe(404);
    expect(await page.locator('[role="alert"]').textContent()).toContain('Event was not found');
    const endpoint = await page.goto(`${gateway.origin}/portal/endpoints/${endpointId}`);
    expect(endpoint!.status()).toBe(404);
    await screenshot(page, 'not-found');
  });

  it('logs out: the session ends on the server, so its cookie opens nothing', async () => {
    const [cookie] = await contextA.cookies();
    const page = await contextA.newPage();
    await page.goto(`${gateway.origin}/portal`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${gateway.origin}/portal/login`);
    const replayed = await newContext();
    await replayed.addCookies([cookie!]);
    const stale = await replayed.newPage();
    await stale.goto(`${gateway.origin}/portal/events/${failedEventId}`);
    expect(stale.url()).toBe(`${gateway.origin}/portal/login`);
  });

  it('renders /docs with its operations while every request off this machine is refused', async () => {
    const context = await newContext();
    const external: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === gateway.origin) return route.continue();
      external.push(url.href);
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    await page.goto(`${gateway.origin}/docs`);
    await page.locator('.opblock').first().waitFor();
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    expect(await page.locator('.opblock-summary-path', { hasText: '/v1/portal/sessions' }).count()).toBe(1);
    expect(external).toEqual([]);
    await screenshot(page, 'docs');
  });
});
