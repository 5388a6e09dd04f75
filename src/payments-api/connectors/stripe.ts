/**
 * Stripe connector: PaymentIntents (https://docs.stripe.com/api/payment_intents) and Refunds
 * (https://docs.stripe.com/api/refunds), form-encoded, `Authorization: Bearer sk_…`, every
 * POST with `Idempotency-Key` (https://docs.stripe.com/api/idempotent_requests).
 */
import type { Decimal } from 'decimal.js';
import { minorUnits, toMinorText } from '../../core/money.js';
import type { PaymentEvent } from '../../core/payments/state-machine.js';
import type { SourceCredentials } from './credentials.js';
import { baseUrl, pspFetch, unknownFor } from './http.js';
import type { Connector, ConnectorOptions, CreatePaymentCall, PspResult } from './types.js';

/** Stripe's API base URL. */
export const STRIPE_API_BASE = 'https://api.stripe.com';

type Form = Record<string, string | number | boolean | undefined | Record<string, string | undefined> | string[]>;

/**
 * `application/x-www-form-urlencoded` the way Stripe reads nested parameters:
 * `metadata[key]=value`, `expand[]=x`. Undefined values are left out.
 *
 * @example
 * stripeForm({ amount: 2000, metadata: { order: '42' } }) // 'amount=2000&metadata%5Border%5D=42'
 */
export function stripeForm(form: Form): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) p.append(`${k}[]`, item);
    else if (typeof v === 'object') {
      for (const [sk, sv] of Object.entries(v)) if (sv !== undefined) p.append(`${k}[${sk}]`, sv);
    } else p.append(k, String(v));
  }
  return p.toString();
}

interface StripePaymentIntent {
  id: string;
  object: 'payment_intent';
  status: string;
  amount: number;
  amount_received?: number;
  currency: string;
  last_payment_error?: { code?: string; decline_code?: string; message?: string } | null;
  latest_charge?: string | { amount_captured?: number; amount_refunded?: number } | null;
}

const isPaymentIntent = (x: unknown): x is StripePaymentIntent =>
  typeof x === 'object' &&
  x !== null &&
  (x as { object?: unknown }).object === 'payment_intent' &&
  typeof (x as { id?: unknown }).id === 'string';

/**
 * What a PaymentIntent's status says about the payment
 * (https://docs.stripe.com/payments/paymentintents/lifecycle): `requires_capture` →
 * authorized; `succeeded` → captured with `amount_received` (and refunded, with the
 * expanded `latest_charge.amount_refunded`, when there were refunds); `canceled` → voided;
 * back to `requires_payment_method` with a `last_payment_error` → failed; anything else
 * (`processing`, `requires_action`) says nothing yet.
 */
export function stripePaymentEvent(pi: StripePaymentIntent): PaymentEvent | undefined {
  const amount = minorUnits(pi.amount);
  switch (pi.status) {
    case 'requires_capture':
      return { kind: 'authorized', amount };
    case 'succeeded': {
      const captured = minorUnits(pi.amount_received ?? pi.amount);
      const charge = typeof pi.latest_charge === 'object' && pi.latest_charge ? pi.latest_charge : undefined;
      if (charge?.amount_refunded) {
        return { kind: 'refunded', amount, capturedTotal: captured, refundedTotal: minorUnits(charge.amount_refunded) };
      }
      return { kind: 'captured', amount, capturedTotal: captured };
    }
    case 'canceled':
      return { kind: 'voided', amount };
    case 'requires_payment_method':
      return pi.last_payment_error ? { kind: 'failed', amount } : undefined;
    default:
      return undefined;
  }
}

function piResult(pi: StripePaymentIntent): PspResult {
  const event = stripePaymentEvent(pi);
  const failed = event?.kind === 'failed';
  return {
    kind: 'answered',
    pspReference: pi.id,
    outcome: failed ? 'failed' : event ? 'succeeded' : 'submitted',
    ...(event ? { event } : {}),
    ...(failed
      ? {
          failure: {
            code: pi.last_payment_error?.decline_code ?? pi.last_payment_error?.code ?? 'payment_failed',
            message: pi.last_payment_error?.message ?? 'The payment failed.',
          },
        }
      : {}),
  };
}

interface StripeError {
  error?: { type?: string; code?: string; decline_code?: string; message?: string; payment_intent?: unknown };
}

/** Maps a Stripe answer to a PspResult, given what a 2xx body means for this call. */
function fromStripe(status: number, body: unknown, onOk: (body: unknown) => PspResult): PspResult {
  if (status >= 200 && status < 300) return onOk(body);
  const unknown = unknownFor(status);
  if (unknown) return unknown;
  const err = (body as StripeError).error ?? {};
  // 409: a request with this key is still in flight at Stripe; ask again later.
  if (status === 409 && err.type === 'idempotency_error' && err.code !== 'idempotency_key_reused') {
    return { kind: 'unknown', reason: 'Stripe is still processing this idempotency key' };
  }
  // 402: the card was declined; the error carries the PaymentIntent (https://docs.stripe.com/declines)
  if (status === 402 && err.type === 'card_error') {
    const pi = isPaymentIntent(err.payment_intent) ? err.payment_intent : undefined;
    return {
      kind: 'answered',
      pspReference: pi?.id ?? '',
      outcome: 'failed',
      event: { kind: 'failed', ...(pi ? { amount: minorUnits(pi.amount) } : {}) },
      failure: { code: err.decline_code ?? err.code ?? 'card_declined', message: err.message ?? 'The card was declined.' },
    };
  }
  return {
    kind: 'rejected',
    httpStatus: status,
    code: err.code ?? err.type ?? 'stripe_error',
    message: err.message ?? `Stripe answered ${status}`,
  };
}

/**
 * A Stripe {@link Connector} for a source. Amounts are sent in minor units, currencies lower
 * case. `merchant_reference` goes into the PaymentIntent's metadata, where the webhook
 * normalizer reads it back.
 */
export function stripeConnector(creds: SourceCredentials, options: ConnectorOptions): Connector {
  const base = () => baseUrl(creds.apiBaseUrl, STRIPE_API_BASE);
  const headers = (pspKey?: string): Record<string, string> => ({
    authorization: `Bearer ${creds.apiKey.reveal()}`,
    'content-type': 'application/x-www-form-urlencoded',
    ...(pspKey ? { 'idempotency-key': pspKey } : {}),
  });
  const post = async (path: string, form: Form, pspKey: string, onOk: (body: unknown) => PspResult): Promise<PspResult> => {
    const r = await pspFetch(options, `${base()}${path}`, { method: 'POST', headers: headers(pspKey), body: stripeForm(form) });
    return r.kind !== 'response' ? r : fromStripe(r.status, r.body, onOk);
  };
  const asPi = (body: unknown): PspResult =>
    isPaymentIntent(body) ? piResult(body) : { kind: 'unknown', reason: 'Stripe answered without a PaymentIntent' };

  return {
    createPayment(call: CreatePaymentCall, pspKey: string) {
      const pm = typeof call.paymentMethod === 'string' ? call.paymentMethod : undefined;
      return post(
        '/v1/payment_intents',
        {
          amount: toMinorText(call.amount),
          currency: call.currency.toLowerCase(),
          capture_method: call.captureMethod,
          confirm: pm ? true : undefined,
          payment_method: pm,
          payment_method_types: pm ? ['card'] : undefined,
          receipt_email: call.customer?.email,
          metadata: {
            ...call.metadata,
            merchant_reference: call.merchantReference,
            ...(call.customer?.reference ? { customer_reference: call.customer.reference } : {}),
          },
        },
        pspKey,
        asPi,
      );
    },
    capture(pspReference, amount, _currency, pspKey) {
      return post(
        `/v1/payment_intents/${encodeURIComponent(pspReference)}/capture`,
        { amount_to_capture: amount ? toMinorText(amount) : undefined },
        pspKey,
        asPi,
      );
    },
    cancel(pspReference, pspKey) {
      return post(`/v1/payment_intents/${encodeURIComponent(pspReference)}/cancel`, {}, pspKey, asPi);
    },
    refund(pspReference: string, amount: Decimal, _currency: string, pspKey: string) {
      return post('/v1/refunds', { payment_intent: pspReference, amount: toMinorText(amount) }, pspKey, (body) => {
        const r = body as { id?: string; object?: string; status?: string; failure_reason?: string };
        if (r.object !== 'refund' || typeof r.id !== 'string') return { kind: 'unknown', reason: 'Stripe answered without a Refund' };
        // https://docs.stripe.com/api/refunds/object#refund_object-status
        const outcome = r.status === 'succeeded' ? 'succeeded' : r.status === 'failed' || r.status === 'canceled' ? 'failed' : 'submitted';
        return {
          kind: 'answered',
          pspReference,
          operationReference: r.id,
          outcome,
          ...(outcome === 'failed' ? { failure: { code: r.failure_reason ?? 'refund_failed', message: 'Stripe could not refund.' } } : {}),
        };
      });
    },
    async retrieve(pspReference) {
      const url = `${base()}/v1/payment_intents/${encodeURIComponent(pspReference)}?${stripeForm({ expand: ['latest_charge'] })}`;
      const r = await pspFetch(options, url, { method: 'GET', headers: headers() });
      return r.kind !== 'response' ? r : fromStripe(r.status, r.body, asPi);
    },
  };
}
