// Test signers, each the exact inverse of its verifier (kept honest by round-trip tests).
import { adyenSigningString } from './adyen.js';
import { concatBytes, fromBase64, fromHex, hmac, toBase64, toHex, utf8 } from '../../core/crypto.js';

const bytesOf = (body: Uint8Array | string): Uint8Array => (typeof body === 'string' ? utf8(body) : body);
const unixSeconds = (at: Date): number => Math.floor(at.getTime() / 1000);

/**
 * The `stripe-signature` value (`t=<unix seconds>,v1=<hex>`) for `body` under `secret` at `at`.
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
 * The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for `body` under
 * `secret` (`whsec_<base64>`) at `at`. Throws when `secret` is not base64.
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

/** The `x-razorpay-signature` value for `body` under the webhook secret. */
export async function signRazorpay(body: Uint8Array | string, secret: string): Promise<string> {
  return toHex(await hmac(utf8(secret), bytesOf(body)));
}

/** The `cko-signature` value for `body` under the signature key. */
export async function signCheckout(body: Uint8Array | string, signatureKey: string): Promise<string> {
  return toHex(await hmac(utf8(signatureKey), bytesOf(body)));
}

/** The `x-paystack-signature` value for `body` under the secret key. */
export async function signPaystack(body: Uint8Array | string, secretKey: string): Promise<string> {
  return toHex(await hmac(utf8(secretKey), bytesOf(body), 'SHA-512'));
}

/** The GoCardless `webhook-signature` value for `body` under the endpoint secret. */
export async function signGoCardless(body: Uint8Array | string, endpointSecret: string): Promise<string> {
  return toHex(await hmac(utf8(endpointSecret), bytesOf(body)));
}

/** The `x-square-hmacsha256-signature` value for `notificationUrl` + `body` under the signature key. */
export async function signSquare(input: { notificationUrl: string; body: Uint8Array | string; signatureKey: string }): Promise<string> {
  const { notificationUrl, body, signatureKey } = input;
  return toBase64(await hmac(utf8(signatureKey), concatBytes(utf8(notificationUrl), bytesOf(body))));
}

/**
 * The `x-signature` (and, with `requestId`, `x-request-id`) headers for a notification about
 * `dataId` at `at`; `ts` in ms, or seconds with `timestampUnit: 's'` (the older docs' form).
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
 * `notification` (JSON text or object) re-serialised with each item's
 * `additionalData.hmacSignature` set under `hmacKey` (hex). Throws when `hmacKey` is not hex.
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
