// Genuine signed inbound requests for every provider, and the database counts that prove
// nothing else was stored. Shared by test/inbound/bad-input.test.ts and test/inbound/fuzz.test.ts.
import { expect } from 'vitest';
import type { Sql } from '../../src/core/db/client.js';
import type { InboundProvider } from '../../src/inbound/verifiers/index.js';
import {
  signAdyen,
  signCheckout,
  signGoCardless,
  signMercadoPago,
  signPaystack,
  signRazorpay,
  signSquare,
  signStandardWebhooks,
  signStripe,
} from '../../src/inbound/verifiers/testing.js';
import { jsonRequest, type testApp } from '../app.js';
import { queuedInboundEvents } from '../process-jobs.js';

/** The clock of the test apps; every timestamped signature is made at this instant. */
export const NOW = new Date('2025-06-02T10:00:00.000Z');

/** Square signs this URL (as entered in the subscription) followed by the body. */
export const SQUARE_URL = 'https://gw.example.com/inbound/square?tenant=acme';

/** One signing secret per provider, each in the provider's own format. */
export const SECRETS: Record<InboundProvider, string> = {
  stripe: 'whsec_fuzz_0123456789abcdefghijklmnop',
  'standard-webhooks': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  adyen: '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056',
  razorpay: 'rzp_webhook_secret_fuzz_0123',
  checkout: 'cko_signature_key_fuzz_0123',
  paystack: 'sk_test_fuzz0123456789abcdef0123456789abcd',
  square: 'sq_signature_key_fuzz_0123',
  gocardless: 'gc_endpoint_secret_fuzz_0123',
  mercadopago: 'mpSecretSignatureFuzz0123456789abcdefXY',
};

/** Every provider, in the contract's order. */
export const PROVIDERS = Object.keys(SECRETS) as InboundProvider[];

/** Creates one source per provider for a merchant; returns the source id per provider. */
export async function createSources(app: ReturnType<typeof testApp>, apiKey: string): Promise<Record<InboundProvider, string>> {
  const ids = {} as Record<InboundProvider, string>;
  for (const provider of PROVIDERS) {
    const res = await app.request(
      '/v1/sources',
      jsonRequest(
        'POST',
        { provider, secret: SECRETS[provider], ...(provider === 'square' ? { notificationUrl: SQUARE_URL } : {}) },
        apiKey,
      ),
    );
    expect(res.status).toBe(201);
    ids[provider] = ((await res.json()) as { id: string }).id;
  }
  return ids;
}

/** What varies between two genuine events: a unique token (ids), an amount in minor units, free text. */
export interface EventSeed {
  /** Unique per event: [A-Za-z0-9], 1–40 characters. */
  token: string;
  /** Minor units. */
  amount: number;
  /** Any text (lands in a description or reference field). */
  note: string;
  /** Items in a batch (GoCardless events, Adyen notification items); 1 for other providers. */
  items?: number;
}

/** A request as the PSP sends it: body bytes, headers, and the event ids it must be stored under. */
export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
  eventIds: string[];
}

/**
 * A genuine request for `provider`, signed with {@link SECRETS} at {@link NOW} by the signer
 * twins of src/inbound/verifiers/testing.ts, with a realistic body built from `seed`.
 */
export async function signedRequest(provider: InboundProvider, seed: EventSeed): Promise<SignedRequest> {
  const { token, amount, note } = seed;
  const n = Math.max(1, seed.items ?? 1);
  const secret = SECRETS[provider];
  switch (provider) {
    case 'stripe': {
      const body = JSON.stringify({
        id: `evt_${token}`,
        object: 'event',
        type: 'payment_intent.succeeded',
        created: Math.floor(NOW.getTime() / 1000),
        data: {
          object: { id: `pi_${token}`, object: 'payment_intent', amount, amount_received: amount, currency: 'eur', description: note },
        },
      });
      return { body, headers: { 'stripe-signature': await signStripe(body, secret, NOW) }, eventIds: [`evt_${token}`] };
    }
    case 'standard-webhooks': {
      const body = JSON.stringify({
        type: 'payment.captured',
        timestamp: NOW.toISOString(),
        data: { pspReference: `psp_${token}`, currency: 'EUR', amount, capturedAmount: amount, merchantReference: note },
      });
      const headers = await signStandardWebhooks({ id: `msg_${token}`, body, secret, at: NOW });
      return { body, headers, eventIds: [`msg_${token}`] };
    }
    case 'adyen': {
      const items = Array.from({ length: n }, (_, i) => ({
        NotificationRequestItem: {
          pspReference: `PSP${token}${i}`,
          merchantAccountCode: 'AcmeECOM',
          merchantReference: note,
          amount: { value: amount, currency: 'EUR' },
          eventCode: 'AUTHORISATION',
          success: 'true',
          additionalData: { note },
        },
      }));
      const body = await signAdyen({ live: 'false', notificationItems: items }, secret);
      return { body, headers: {}, eventIds: items.map((_, i) => `PSP${token}${i}:AUTHORISATION:true`) };
    }
    case 'razorpay': {
      const body = JSON.stringify({
        entity: 'event',
        event: 'payment.captured',
        payload: { payment: { entity: { id: `pay_${token}`, amount, currency: 'INR', status: 'captured', description: note } } },
      });
      return {
        body,
        headers: { 'x-razorpay-signature': await signRazorpay(body, secret), 'x-razorpay-event-id': `rzpev_${token}` },
        eventIds: [`rzpev_${token}`],
      };
    }
    case 'checkout': {
      const body = JSON.stringify({
        id: `evt_${token}`,
        type: 'payment_captured',
        data: { id: `pay_${token}`, amount, currency: 'GBP', reference: note, balances: { total_captured: amount } },
      });
      return { body, headers: { 'cko-signature': await signCheckout(body, secret) }, eventIds: [`evt_${token}`] };
    }
    case 'paystack': {
      const body = JSON.stringify({ event: 'charge.success', data: { id: `tx${token}`, reference: note, amount, currency: 'NGN' } });
      return { body, headers: { 'x-paystack-signature': await signPaystack(body, secret) }, eventIds: [`charge.success:tx${token}`] };
    }
    case 'square': {
      const body = JSON.stringify({
        merchant_id: 'M1',
        type: 'payment.updated',
        event_id: `sqev-${token}`,
        data: {
          type: 'payment',
          id: `P${token}`,
          object: { payment: { id: `P${token}`, status: 'COMPLETED', note, amount_money: { amount, currency: 'USD' } } },
        },
      });
      const signature = await signSquare({ notificationUrl: SQUARE_URL, body, signatureKey: secret });
      return { body, headers: { 'x-square-hmacsha256-signature': signature }, eventIds: [`sqev-${token}`] };
    }
    case 'gocardless': {
      const events = Array.from({ length: n }, (_, i) => ({
        id: `EV${token}${i}`,
        resource_type: 'payments',
        action: 'confirmed',
        links: { payment: `PM${token}` },
        details: { description: note },
      }));
      const body = JSON.stringify({ events, meta: { webhook_id: `WB${token}` } });
      return { body, headers: { 'webhook-signature': await signGoCardless(body, secret) }, eventIds: events.map((e) => e.id) };
    }
    case 'mercadopago': {
      const dataId = `${token}`.toLowerCase();
      const body = JSON.stringify({
        id: `n${token}`,
        type: 'payment',
        action: 'payment.updated',
        live_mode: false,
        data: { id: dataId },
        note,
      });
      const headers = await signMercadoPago({ dataId, requestId: `req-${token}`, secret, at: NOW });
      return { body, headers, eventIds: [`n${token}`] };
    }
  }
}

/**
 * Rows in gw.inbound_events and inbound events queued for processing (the ids carried by
 * `process_inbound_event` jobs): what a refused request must not change, and what a stored
 * event adds one to each of.
 */
export async function storedCounts(sql: Sql): Promise<{ events: number; jobs: number }> {
  const [row] = await sql<{ events: number }[]>`select count(*)::int as events from gw.inbound_events`;
  return { events: row!.events, jobs: await queuedInboundEvents(sql) };
}
