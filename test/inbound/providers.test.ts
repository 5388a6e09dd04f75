import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import {
  signAdyen,
  signCheckout,
  signGoCardless,
  signMercadoPago,
  signPaystack,
  signRazorpay,
  signSquare,
} from '../../src/inbound/verifiers/testing.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';

const NOW = new Date('2025-06-02T10:00:00.000Z');
const ADYEN_KEY = randomBytes(32).toString('hex').toUpperCase();
const SQUARE_URL = 'https://gw.example.com/inbound/square?tenant=acme';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let apiKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: fixedClock(NOW) });
  app = testApp(deps);
  apiKey = (await aMerchant(deps)).apiKey;
});
afterAll(async () => db.drop());

function createSource(body: Record<string, unknown>) {
  return app.request('/v1/sources', jsonRequest('POST', body, apiKey));
}

async function sourceId(body: Record<string, unknown>): Promise<string> {
  const res = await createSource(body);
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

function postInbound(id: string, body: string, headers: Record<string, string>) {
  return app.request(`/inbound/${id}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function rowsOf(id: string) {
  return db.sql<{ id: string; event_id: string; status: string; raw_body: Uint8Array }[]>`
    select i.id, i.event_id, i.status, b.raw_body
      from gw.inbound_events i join gw.inbound_event_bodies b on b.inbound_event_id = i.id
     where i.source_id = ${id} order by i.event_id`;
}

/** A signed request for one provider, and how to break it after signing. */
interface Case {
  provider: string;
  source: Record<string, unknown>;
  request: () => Promise<{ body: string; headers: Record<string, string>; eventIds: string[] }>;
  /** The body with a signed value changed, same headers. */
  tamper: (body: string) => string;
  /** What processing does with it: the provider's normalizer applies it, or ignores it (with the reason's start). */
  processed: { result: 'applied' } | { result: 'ignored'; reason: string };
}

const cases: Case[] = [
  {
    provider: 'adyen',
    source: { provider: 'adyen', secret: ADYEN_KEY },
    request: async () => {
      const item = {
        pspReference: 'PSP0001',
        merchantAccountCode: 'AcmeECOM',
        merchantReference: 'order-42',
        amount: { value: 2000, currency: 'EUR' },
        eventCode: 'AUTHORISATION',
        success: 'true',
      };
      const body = await signAdyen({ live: 'false', notificationItems: [{ NotificationRequestItem: item }] }, ADYEN_KEY);
      return { body, headers: {}, eventIds: ['PSP0001:AUTHORISATION:true'] };
    },
    tamper: (body) => body.replace('"value":2000', '"value":9000'),
    processed: { result: 'applied' },
  },
  {
    provider: 'razorpay',
    source: { provider: 'razorpay', secret: 'rzp_webhook_secret_0123' },
    request: async () => {
      const body = JSON.stringify({
        entity: 'event',
        event: 'payment.captured',
        payload: {
          payment: { entity: { id: 'pay_1', amount: 2000, currency: 'INR', status: 'captured', captured: true, amount_refunded: 0 } },
        },
      });
      return {
        body,
        headers: { 'x-razorpay-signature': await signRazorpay(body, 'rzp_webhook_secret_0123'), 'x-razorpay-event-id': 'Izqo9Q5d1Kq2ab' },
        eventIds: ['Izqo9Q5d1Kq2ab'],
      };
    },
    tamper: (body) => body.replace('"amount":2000', '"amount":9000'),
    processed: { result: 'applied' },
  },
  {
    provider: 'checkout',
    source: { provider: 'checkout', secret: 'cko_signature_key_0123' },
    request: async () => {
      const body = JSON.stringify({
        id: 'evt_az5sblvku4ge3dwpztvyizgcau',
        type: 'payment_captured',
        data: { id: 'pay_1', amount: 2000, currency: 'GBP', balances: { total_captured: 2000, total_refunded: 0 } },
      });
      return {
        body,
        headers: { 'cko-signature': await signCheckout(body, 'cko_signature_key_0123') },
        eventIds: ['evt_az5sblvku4ge3dwpztvyizgcau'],
      };
    },
    tamper: (body) => body.replace('"amount":2000', '"amount":9000'),
    processed: { result: 'applied' },
  },
  {
    provider: 'paystack',
    source: { provider: 'paystack', secret: 'sk_test_b1f3d258d7cebe09741b9c1fdacef75256729af7' },
    request: async () => {
      const body = JSON.stringify({ event: 'charge.success', data: { id: 302961, reference: 'ref-1', amount: 2000, currency: 'NGN' } });
      return {
        body,
        headers: { 'x-paystack-signature': await signPaystack(body, 'sk_test_b1f3d258d7cebe09741b9c1fdacef75256729af7') },
        eventIds: ['charge.success:302961'],
      };
    },
    tamper: (body) => body.replace('"amount":2000', '"amount":9000'),
    processed: { result: 'applied' },
  },
  {
    provider: 'square',
    source: { provider: 'square', secret: 'sq_signature_key_0123', notificationUrl: SQUARE_URL },
    request: async () => {
      const body = JSON.stringify({
        merchant_id: 'M1',
        type: 'payment.updated',
        event_id: 'a8d6c1f4-3c1e-4b7a',
        data: {
          type: 'payment',
          id: 'P1',
          object: {
            payment: {
              id: 'P1',
              status: 'COMPLETED',
              amount_money: { amount: 2000, currency: 'USD' },
              total_money: { amount: 2000, currency: 'USD' },
            },
          },
        },
      });
      const signature = await signSquare({ notificationUrl: SQUARE_URL, body, signatureKey: 'sq_signature_key_0123' });
      return { body, headers: { 'x-square-hmacsha256-signature': signature }, eventIds: ['a8d6c1f4-3c1e-4b7a'] };
    },
    tamper: (body) => body.replace('"amount":2000', '"amount":9000'),
    processed: { result: 'applied' },
  },
  {
    provider: 'gocardless',
    source: { provider: 'gocardless', secret: 'gc_endpoint_secret_0123' },
    request: async () => {
      const body = JSON.stringify({
        events: [{ id: 'EV0SINGLE', resource_type: 'payments', action: 'confirmed', links: { payment: 'PM1' }, details: { amount: 2000 } }],
      });
      return { body, headers: { 'webhook-signature': await signGoCardless(body, 'gc_endpoint_secret_0123') }, eventIds: ['EV0SINGLE'] };
    },
    tamper: (body) => body.replace('"amount":2000', '"amount":9000'),
    processed: { result: 'ignored', reason: 'GoCardless' },
  },
  {
    provider: 'mercadopago',
    source: { provider: 'mercadopago', secret: '23f8d17084f77e200a6ccbbf650b03cd4faf650e5cebd840edb78bc3967d7d0f' },
    request: async () => {
      const body = JSON.stringify({ id: 12345, type: 'payment', action: 'payment.updated', data: { id: '123456' } });
      const headers = await signMercadoPago({
        dataId: '123456',
        requestId: 'bb56a2f1-6aae-46ac',
        secret: '23f8d17084f77e200a6ccbbf650b03cd4faf650e5cebd840edb78bc3967d7d0f',
        at: NOW,
      });
      return { body, headers, eventIds: ['12345'] };
    },
    // Mercado Pago signs data.id (with the request id and ts), not the whole body.
    tamper: (body) => body.replace('"id":"123456"', '"id":"123457"'),
    processed: { result: 'ignored', reason: 'Mercado Pago' },
  },
];

describe.each(cases)('POST /inbound/{sourceId} with a $provider source', ({ provider, source, request, tamper, processed }) => {
  let id: string;
  beforeAll(async () => {
    id = await sourceId(source);
  });

  it('stores a signed request under the expected event ids as received, acks 200, and processing applies or ignores it as its normalizer says', async () => {
    const { body, headers, eventIds } = await request();
    const res = await postInbound(id, body, headers);
    expect(res.status).toBe(200);
    if (provider === 'adyen') {
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toBe('[accepted]');
    } else {
      expect(await res.json()).toEqual({ received: true, duplicate: false });
    }

    const rows = await rowsOf(id);
    expect(rows.map((r) => r.event_id)).toEqual(eventIds);
    expect(rows.every((r) => r.status === 'received')).toBe(true);

    for (const row of rows) {
      expect(await processInboundEvent(deps, { inboundEventId: row.id })).toMatchObject(
        processed.result === 'applied' ? { result: 'applied' } : { result: 'ignored', reason: expect.stringContaining(processed.reason) },
      );
    }
    expect((await rowsOf(id)).map((r) => r.status)).toEqual(eventIds.map(() => (processed.result === 'applied' ? 'processed' : 'ignored')));
  });

  it('refuses a request whose signed content changed after signing with 401 and stores nothing', async () => {
    const { body, headers } = await request();
    const tampered = tamper(body);
    expect(tampered).not.toBe(body);
    const before = (await rowsOf(id)).length;
    const res = await postInbound(id, tampered, headers);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('signature_invalid');
    expect((await rowsOf(id)).length).toBe(before);
  });
});

describe('POST /inbound/{sourceId} with a GoCardless batch', () => {
  const SECRET = 'gc_batch_secret_0123';
  const events = [
    { id: 'EV001', resource_type: 'payments', action: 'created', links: { payment: 'PM1' } },
    { id: 'EV002', resource_type: 'payments', action: 'confirmed', links: { payment: 'PM1' } },
    { id: 'EV003', resource_type: 'mandates', action: 'active', links: { mandate: 'MD1' } },
  ];
  const body = JSON.stringify({ events, meta: { webhook_id: 'WB1' } });
  let id: string;
  let signature: string;
  beforeAll(async () => {
    id = await sourceId({ provider: 'gocardless', secret: SECRET });
    signature = await signGoCardless(body, SECRET);
  });

  it('stores each of 3 events of one request as its own inbound event with its own JSON as the body', async () => {
    const res = await postInbound(id, body, { 'webhook-signature': signature });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    const rows = await rowsOf(id);
    expect(rows.map((r) => r.event_id)).toEqual(['EV001', 'EV002', 'EV003']);
    expect(rows.map((r) => JSON.parse(Buffer.from(r.raw_body).toString('utf8')) as unknown)).toEqual(events);
  });

  it('acks the same batch again as duplicate true and still holds 3 rows', async () => {
    const res = await postInbound(id, body, { 'webhook-signature': signature });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: true });
    expect(await rowsOf(id)).toHaveLength(3);
  });

  it('stores only the new events of a batch that repeats some, and answers duplicate false', async () => {
    const more = JSON.stringify({ events: [events[0], { id: 'EV004', resource_type: 'payments', action: 'paid_out' }] });
    const res = await postInbound(id, more, { 'webhook-signature': await signGoCardless(more, SECRET) });
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    expect((await rowsOf(id)).map((r) => r.event_id)).toEqual(['EV001', 'EV002', 'EV003', 'EV004']);
  });

  it('answers 400 event_id_missing for a signed batch with an event without an id, and stores none of it', async () => {
    const broken = JSON.stringify({ events: [{ id: 'EV005', action: 'created' }, { action: 'created' }] });
    const res = await postInbound(id, broken, { 'webhook-signature': await signGoCardless(broken, SECRET) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('event_id_missing');
    expect(await rowsOf(id)).toHaveLength(4);
  });
});

describe('POST /inbound/{sourceId} with an Adyen notification of 2 items', () => {
  const item = (pspReference: string, eventCode: string) => ({
    NotificationRequestItem: {
      pspReference,
      merchantAccountCode: 'AcmeECOM',
      merchantReference: 'order-7',
      amount: { value: 1500, currency: 'EUR' },
      eventCode,
      success: 'true',
    },
  });
  let id: string;
  let body: string;
  beforeAll(async () => {
    id = await sourceId({ provider: 'adyen', secret: ADYEN_KEY });
    body = await signAdyen({ live: 'false', notificationItems: [item('PSP7', 'AUTHORISATION'), item('PSP7', 'CAPTURE')] }, ADYEN_KEY);
  });

  it('stores 2 inbound events and answers exactly [accepted]', async () => {
    const res = await postInbound(id, body, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('[accepted]');
    expect((await rowsOf(id)).map((r) => r.event_id)).toEqual(['PSP7:AUTHORISATION:true', 'PSP7:CAPTURE:true']);
  });

  it('answers [accepted] to the same notification again without storing it twice', async () => {
    const res = await postInbound(id, body, {});
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('[accepted]');
    expect(await rowsOf(id)).toHaveLength(2);
  });
});

describe('POST /v1/sources for the providers beyond Stripe and Standard Webhooks', () => {
  async function expectInvalid(body: Record<string, unknown>, path: string): Promise<void> {
    const res = await createSource(body);
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; errors: { path: string[] }[] };
    expect(problem.code).toBe('invalid_request');
    expect(problem.errors.map((e) => e.path.join('.'))).toContain(path);
  }

  it('refuses a Square source without notificationUrl with 400 invalid_request', async () => {
    await expectInvalid({ provider: 'square', secret: 'sq_signature_key_0123' }, 'notificationUrl');
  });

  it('refuses a Square notificationUrl that is not an absolute URL', async () => {
    await expectInvalid({ provider: 'square', secret: 'ZbpWI5XchOSNMXYAaCdxZQ', notificationUrl: '/inbound/x' }, 'notificationUrl');
    await expectInvalid(
      { provider: 'square', secret: 'ZbpWI5XchOSNMXYAaCdxZQ', notificationUrl: 'ftp://gw.example.com/x' },
      'notificationUrl',
    );
  });

  it('returns a Square source notificationUrl exactly as given, and null for other providers', async () => {
    const res = await createSource({ provider: 'square', secret: 'ZbpWI5XchOSNMXYAaCdxZQ', notificationUrl: SQUARE_URL });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; notificationUrl: string };
    expect(created.notificationUrl).toBe(SQUARE_URL);
    const read = await app.request(`/v1/sources/${created.id}`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(((await read.json()) as { notificationUrl: string }).notificationUrl).toBe(SQUARE_URL);
    const other = await createSource({ provider: 'checkout', secret: '4dUUcvyNSY1PD14owD2u3hrv' });
    expect(((await other.json()) as { notificationUrl: string | null }).notificationUrl).toBeNull();
  });

  it('refuses notificationUrl on a provider that does not sign a URL', async () => {
    await expectInvalid({ provider: 'checkout', secret: '4dUUcvyNSY1PD14owD2u3hrv', notificationUrl: SQUARE_URL }, 'notificationUrl');
  });

  it('refuses a malformed Adyen HMAC key: not hex, or not 64 characters', async () => {
    await expectInvalid({ provider: 'adyen', secret: 'not-a-hex-key-not-a-hex-key-0000' }, 'secret');
    await expectInvalid({ provider: 'adyen', secret: `${ADYEN_KEY}A` }, 'secret');
    await expectInvalid({ provider: 'adyen', secret: 'ABCDEF0123456789' }, 'secret');
  });

  it('refuses a Paystack public key, and any secret with surrounding whitespace', async () => {
    await expectInvalid({ provider: 'paystack', secret: 'pk_test_0123456789' }, 'secret');
    await expectInvalid({ provider: 'razorpay', secret: ' rzp_secret ' }, 'secret');
  });

  it('refuses a Standard Webhooks secret longer than 64 bytes', async () => {
    await expectInvalid({ provider: 'standard-webhooks', secret: `whsec_${randomBytes(65).toString('base64')}` }, 'secret');
  });
});
