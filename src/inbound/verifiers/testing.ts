/**
 * Test signers: the exact inverse of each verifier, kept honest by round-trip tests against
 * the verifiers and the PSPs' official libraries. Web Crypto only, like the verifiers.
 */
import { concatBytes, fromBase64, hmac, toBase64, toHex, utf8 } from '../../core/crypto.js';

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
