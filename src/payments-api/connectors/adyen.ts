/**
 * Adyen connector: Checkout API v71 (https://docs.adyen.com/api-explorer/Checkout/71/overview):
 * `POST /payments` and `/payments/{paymentPspReference}/captures|cancels|refunds`, JSON,
 * `X-API-Key`, `Idempotency-Key` of at most 64 characters
 * (https://docs.adyen.com/development-resources/api-idempotency/). No GET for a payment, so no
 * `retrieve`: modifications are `submitted` and their outcome comes by webhook.
 */
import { minorUnits, toJsonAmount } from '../../core/money.js';
import type { SourceCredentials } from './credentials.js';
import { baseUrl, pspFetch, unknownFor } from './http.js';
import type { Connector, ConnectorOptions, CreatePaymentCall, PspResult } from './types.js';

/** Adyen's Checkout test endpoint (live endpoints are per merchant: set `apiBaseUrl`). */
const ADYEN_CHECKOUT_TEST_BASE = 'https://checkout-test.adyen.com/v71';

// https://docs.adyen.com/online-payments/build-your-integration/payment-result-codes
const FAILED_RESULT_CODES = new Set(['Refused', 'Error', 'Cancelled']);

interface AdyenError {
  status?: number;
  errorCode?: string;
  message?: string;
  errorType?: string;
}

function fromAdyen(status: number, body: unknown, onOk: (b: Record<string, unknown>) => PspResult): PspResult {
  if (status >= 200 && status < 300 && typeof body === 'object' && body !== null) return onOk(body as Record<string, unknown>);
  const unknown = unknownFor(status);
  if (unknown) return unknown;
  const e = (typeof body === 'object' && body ? body : {}) as AdyenError;
  return {
    kind: 'rejected',
    httpStatus: status,
    code: e.errorCode ?? e.errorType ?? 'adyen_error',
    message: e.message ?? `Adyen answered ${status}`,
  };
}

/**
 * An Adyen {@link Connector} for a source; the source must carry the Adyen
 * `merchantAccount`. `/payments` answers: `Authorised` → authorized; `Refused`, `Error`,
 * `Cancelled` → failed (with `refusalReason`); others (`Received`, `Pending`, actions) →
 * submitted. Manual capture is asked per payment with `additionalData.manualCapture`.
 */
export function adyenConnector(creds: SourceCredentials, options: ConnectorOptions): Connector {
  const base = () => baseUrl(creds.apiBaseUrl, ADYEN_CHECKOUT_TEST_BASE);
  const merchantAccount = creds.merchantAccount ?? '';
  const post = async (path: string, body: Record<string, unknown>, pspKey: string, onOk: (b: Record<string, unknown>) => PspResult) => {
    const r = await pspFetch(options, `${base()}${path}`, {
      method: 'POST',
      headers: { 'x-api-key': creds.apiKey.reveal(), 'content-type': 'application/json', 'idempotency-key': pspKey },
      body: JSON.stringify(body),
    });
    return r.kind !== 'response' ? r : fromAdyen(r.status, r.body, onOk);
  };
  const modification =
    (paymentPspReference: string) =>
    (b: Record<string, unknown>): PspResult => ({
      kind: 'answered',
      pspReference: paymentPspReference,
      ...(typeof b.pspReference === 'string' ? { operationReference: b.pspReference } : {}),
      outcome: 'submitted',
    });

  return {
    createPayment(call: CreatePaymentCall, pspKey: string) {
      return post(
        '/payments',
        {
          merchantAccount,
          amount: { value: toJsonAmount(call.amount), currency: call.currency },
          reference: call.merchantReference,
          paymentMethod: typeof call.paymentMethod === 'object' ? call.paymentMethod : { type: 'scheme' },
          ...(call.customer?.reference ? { shopperReference: call.customer.reference } : {}),
          ...(call.customer?.email ? { shopperEmail: call.customer.email } : {}),
          ...(call.metadata ? { metadata: call.metadata } : {}),
          ...(call.captureMethod === 'manual' ? { additionalData: { manualCapture: 'true' } } : {}),
        },
        pspKey,
        (b) => {
          const pspReference = typeof b.pspReference === 'string' ? b.pspReference : '';
          const resultCode = String(b.resultCode ?? '');
          if (resultCode === 'Authorised') {
            return { kind: 'answered', pspReference, outcome: 'succeeded', event: { kind: 'authorized', amount: call.amount } };
          }
          if (FAILED_RESULT_CODES.has(resultCode)) {
            return {
              kind: 'answered',
              pspReference,
              outcome: 'failed',
              event: { kind: 'failed', amount: call.amount },
              failure: { code: String(b.refusalReasonCode ?? resultCode), message: String(b.refusalReason ?? resultCode) },
            };
          }
          return { kind: 'answered', pspReference, outcome: 'submitted' };
        },
      );
    },
    capture(pspReference, amount, currency, pspKey) {
      return post(
        `/payments/${encodeURIComponent(pspReference)}/captures`,
        { merchantAccount, amount: { value: toJsonAmount(amount ?? minorUnits(0)), currency } },
        pspKey,
        modification(pspReference),
      );
    },
    cancel(pspReference, pspKey) {
      return post(`/payments/${encodeURIComponent(pspReference)}/cancels`, { merchantAccount }, pspKey, modification(pspReference));
    },
    refund(pspReference, amount, currency, pspKey) {
      return post(
        `/payments/${encodeURIComponent(pspReference)}/refunds`,
        { merchantAccount, amount: { value: toJsonAmount(amount), currency } },
        pspKey,
        modification(pspReference),
      );
    },
  };
}
