// Inbound bodies nested deep enough to overflow a recursive parser or serialiser: refused
// with 400 before anything parses them, whoever signed them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { signAdyen, signStripe } from '../../src/inbound/verifiers/testing.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const STRIPE_SECRET = 'whsec_nesting_Q2hhbmdlTWVQbGVhc2UxMjM0NTY3';
const ADYEN_KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let stripeSource: string;
let adyenSource: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  app = testApp(deps);
  const { apiKey } = await aMerchant(deps);
  const create = async (body: Record<string, unknown>) =>
    ((await (await app.request('/v1/sources', jsonRequest('POST', body, apiKey))).json()) as { id: string }).id;
  stripeSource = await create({ provider: 'stripe', secret: STRIPE_SECRET });
  adyenSource = await create({ provider: 'adyen', secret: ADYEN_KEY });
});
afterAll(async () => db.drop());

/** `{"deep": {"deep": … {}}}`, `levels` objects deep. */
function nested(levels: number): unknown {
  let v: unknown = {};
  for (let i = 1; i < levels; i += 1) v = { deep: v };
  return v;
}

function adyenItem(additionalData: Record<string, unknown>) {
  return {
    pspReference: `PSP${Date.now()}${Math.floor(Math.random() * 1e6)}`,
    eventCode: 'AUTHORISATION',
    success: 'true',
    merchantAccountCode: 'Acme',
    merchantReference: 'ord-1',
    amount: { value: 1000, currency: 'EUR' },
    additionalData,
  };
}

async function countStored(sourceId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events where source_id = ${sourceId}`;
  return row!.n;
}

describe('inbound nesting depth', () => {
  it('refuses a genuine Adyen item with 5,000 levels in its unsigned additionalData: 400 payload_too_deep, nothing stored', async () => {
    // additionalData.deep is not signed: put the deep text in after signing (as an attacker
    // replaying a genuine notification would), written out because JSON.stringify overflows.
    const signed = await signAdyen(
      { live: 'false', notificationItems: [{ NotificationRequestItem: adyenItem({ deep: 'DEEP' }) }] },
      ADYEN_KEY,
    );
    const body = signed.replace('"DEEP"', `${'{"deep":'.repeat(5000)}{}${'}'.repeat(5000)}`);
    expect(body.length).toBeGreaterThan(40_000);
    const res = await app.request(`/inbound/${adyenSource}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_deep');
    expect(await countStored(adyenSource)).toBe(0);
  });

  it('refuses a body nested past SWITCHYARD_INBOUND_MAX_DEPTH before verifying it, and accepts one at the limit', async () => {
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 1000 });
    // the event object itself is level 1; data.object is 3; so `extra` adds levels below 3
    const at = (levels: number) => JSON.stringify({ ...event, id: `${event.id as string}_${levels}`, extra: nested(levels - 1) });
    const post = async (body: string) =>
      app.request(`/inbound/${stripeSource}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, new Date()) },
        body,
      });
    expect((await post(at(deps.config.SWITCHYARD_INBOUND_MAX_DEPTH))).status).toBe(200);
    const over = await post(at(deps.config.SWITCHYARD_INBOUND_MAX_DEPTH + 1));
    expect(over.status).toBe(400);
    expect(((await over.json()) as { code: string }).code).toBe('payload_too_deep');
    // unsigned, too: refused on its shape, never parsed
    const unsigned = await app.request(`/inbound/${stripeSource}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      body: '['.repeat(100_000),
    });
    expect(unsigned.status).toBe(400);
    expect(await countStored(stripeSource)).toBe(1);
  });

  it('counts brackets inside strings as text, not nesting', async () => {
    const event = buildStripeEvent('payment_intent.succeeded', { amount: 1000 });
    const body = JSON.stringify({ ...event, description: `${'['.repeat(500)}\\"{{{${'{'.repeat(500)}` });
    const res = await app.request(`/inbound/${stripeSource}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, STRIPE_SECRET, new Date()) },
      body,
    });
    expect(res.status).toBe(200);
  });
});
