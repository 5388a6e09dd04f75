/**
 * Test signers: the exact inverse of each verifier, kept honest by round-trip tests against
 * the verifiers and the PSPs' official libraries. Web Crypto only, like the verifiers.
 */
import { adyenSigningString } from './adyen.js';
import { concatBytes, fromBase64, fromHex, hmac, toBase64, toHex, utf8 } from '../../core/crypto.js';

const bytesOf = (body: Uint8Array | string): Uint8Array => (typeof body === 'string' ? utf8(body) : body);
const unixSeconds = (at: Date): number => Math.floor(at.getTime() / 1000);

/**
 * The `stripe-signature` header value `t=<unix seconds>,v1=<hex>` that Stripe would send for
 * `body` signed with `secret` (the whole `whsec_…` string) at `at`
 * (https://docs.stripe.com/webhooks#verify-manually).
 *
 * @example
 * const header = await signStripe(body, 'whsec_test', now);
 * await verifyStripe({ body, headers: { 'stripe-signature': header }, secrets: ['whsec_test'], toleranceSeconds: 300, now });
 */
export async function signStripe(body: Uint8Array | string, secret: string, at: Date): Promise<string> {
  const t = unixSeconds(at);
  const mac = await hmac(utf8(secret), concatBytes(utf8(`${t}.`), bytesOf(body)));
  return `t=${t},v1=${toHex(mac)}`;
}

/**
 * The `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (`v1,<base64>`)
 * headers for `body` signed with `secret` (`whsec_<base64>`, prefix optional) at `at`
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 * Throws when `secret` is not base64, since a test that signs with it is wrong.
 *
 * @example
 * const headers = await signStandardWebhooks({ id: 'msg_1', body, secret, at: now });
 */
export async function signStandardWebhooks(input: {
  id: string;
  body: Uint8Array | string;
  secret: string;
  at: Date;
}): Promise<Record<string, string>> {
  const { id, body, secret, at } = input;
  const key = fromBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
  if (!key || key.length === 0) throw new Error('signStandardWebhooks: secret is not whsec_<base64>');
  const timestamp = String(unixSeconds(at));
  const mac = await hmac(key, concatBytes(utf8(`${id}.${timestamp}.`), bytesOf(body)));
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${toBase64(mac)}` };
}

/**
 * The `x-razorpay-signature` header value (hex HMAC-SHA256 of the body under the webhook
 * secret) that Razorpay would send for `body` (https://razorpay.com/docs/webhooks/validate-test/).
 *
 * @example
 * const headers = { 'x-razorpay-signature': await signRazorpay(body, 'whsec'), 'x-razorpay-event-id': 'Izqo9Q5d1Kq2ab' };
 */
export async function signRazorpay(body: Uint8Array | string, secret: string): Promise<string> {
  return toHex(await hmac(utf8(secret), bytesOf(body)));
}

/**
 * The `cko-signature` header value (hex HMAC-SHA256 of the body under the webhook action's
 * signature key) that Checkout.com would send for `body`
 * (https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver).
 *
 * @example
 * const headers = { 'cko-signature': await signCheckout(body, signatureKey) };
 */
export async function signCheckout(body: Uint8Array | string, signatureKey: string): Promise<string> {
  return toHex(await hmac(utf8(signatureKey), bytesOf(body)));
}

/**
 * The `x-paystack-signature` header value (hex HMAC-SHA512 of the body under the secret key)
 * that Paystack would send for `body` (https://paystack.com/docs/payments/webhooks/#verify-event-origin).
 *
 * @example
 * const headers = { 'x-paystack-signature': await signPaystack(body, 'sk_test_…') };
 */
export async function signPaystack(body: Uint8Array | string, secretKey: string): Promise<string> {
  return toHex(await hmac(utf8(secretKey), bytesOf(body), 'SHA-512'));
}

/**
 * The `webhook-signature` header value (hex HMAC-SHA256 of the body under the endpoint
 * secret) that GoCardless would send for `body`
 * (https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks/).
 *
 * @example
 * const headers = { 'webhook-signature': await signGoCardless(body, endpointSecret) };
 */
export async function signGoCardless(body: Uint8Array | string, endpointSecret: string): Promise<string> {
  return toHex(await hmac(utf8(endpointSecret), bytesOf(body)));
}

/**
 * The `x-square-hmacsha256-signature` header value (base64 HMAC-SHA256 of
 * `notificationUrl` followed by the body, under the signature key) that Square would send
 * (https://developer.squareup.com/docs/webhooks/step3validate).
 *
 * @example
 * const sig = await signSquare({ notificationUrl: 'https://gw.example.com/inbound/src_1', body, signatureKey });
 */
export async function signSquare(input: {
  notificationUrl: string;
  body: Uint8Array | string;
  signatureKey: string;
}): Promise<string> {
  const { notificationUrl, body, signatureKey } = input;
  return toBase64(await hmac(utf8(signatureKey), concatBytes(utf8(notificationUrl), bytesOf(body))));
}

/**
 * The `x-signature` (`ts=<ts>,v1=<hex>`) and, when `requestId` is given, `x-request-id`
 * headers Mercado Pago would send for a notification about `dataId` at `at`
 * (https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks).
 * The manifest is `id:<dataId lowercased>;request-id:<requestId>;ts:<ts>;`, an absent part
 * left out. `ts` is in milliseconds, as Mercado Pago sends it; `timestampUnit: 's'` signs the
 * seconds form of Mercado Pago's older docs example.
 *
 * @example
 * const headers = await signMercadoPago({ dataId: '123456', requestId: 'bb56a2f1-…', secret, at: now });
 */
export async function signMercadoPago(input: {
  dataId?: string;
  requestId?: string;
  secret: string;
  at: Date;
  timestampUnit?: 'ms' | 's';
}): Promise<Record<string, string>> {
  const { dataId, requestId, secret, at, timestampUnit = 'ms' } = input;
  const ts = String(timestampUnit === 'ms' ? at.getTime() : unixSeconds(at));
  let manifest = '';
  if (dataId) manifest += `id:${dataId.toLowerCase()};`;
  if (requestId) manifest += `request-id:${requestId};`;
  manifest += `ts:${ts};`;
  const v1 = toHex(await hmac(utf8(secret), utf8(manifest)));
  return { 'x-signature': `ts=${ts},v1=${v1}`, ...(requestId ? { 'x-request-id': requestId } : {}) };
}

/**
 * The Adyen notification `notification` (JSON text or object) re-serialised with every
 * item's `additionalData.hmacSignature` set as Adyen would set it under `hmacKey` (hex):
 * base64 HMAC-SHA256 of `pspReference:originalReference:merchantAccountCode:merchantReference:
 * amount.value:amount.currency:eventCode:success`, absent values empty
 * (https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures).
 * Throws when `hmacKey` is not hex, since a test that signs with it is wrong.
 *
 * @example
 * const body = await signAdyen(readFileSync('test/fixtures/adyen/capture-true.json', 'utf8'), hmacKey);
 */
export async function signAdyen(notification: string | object, hmacKey: string): Promise<string> {
  const key = fromHex(hmacKey);
  if (!key || key.length === 0) throw new Error('signAdyen: hmacKey is not hex');
  type Obj = Record<string, unknown>;
  const parsed = (typeof notification === 'string' ? JSON.parse(notification) : structuredClone(notification)) as {
    notificationItems: { NotificationRequestItem: Obj }[];
  };
  for (const { NotificationRequestItem: item } of parsed.notificationItems) {
    const data = adyenSigningString(item);
    if (data === undefined) throw new Error('signAdyen: a signed field is an object or array');
    const additionalData = (item.additionalData ?? {}) as Obj;
    additionalData.hmacSignature = toBase64(await hmac(key, utf8(data)));
    item.additionalData = additionalData;
  }
  return JSON.stringify(parsed);
}
