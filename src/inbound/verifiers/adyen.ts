import { fromBase64, fromHex, importHmacKey, utf8, verifyHmac, type CryptoKey } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const MAX_SIGNATURE_LENGTH = 4096;

type Item = Record<string, unknown>;

/**
 * Verifies an Adyen standard webhook
 * (https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures):
 * every `notificationItems[i]` must carry `additionalData.hmacSignature`, the base64
 * HMAC-SHA256 under a hex key of {@link adyenSigningString}. Only those fields are signed, no
 * body bytes and no timestamp. Fails `signature_missing` when no item is signed (HMAC is off),
 * else `signature_invalid` naming the item; never throws.
 *
 * @example
 * const r = await verifyAdyen({ body, headers, secrets: ['44782DEF547AAA06C910C43932B1EB0C…'], toleranceSeconds: 300, now });
 */
export const verifyAdyen: Verifier = async ({ body, secrets }) => {
  const items = readItems(body);
  if (typeof items === 'string') return err({ code: 'signature_invalid', detail: items });
  const signatures = items.map((item) => {
    const additional = item.additionalData;
    return typeof additional === 'object' && additional !== null ? (additional as Item).hmacSignature : undefined;
  });
  const absent = (s: unknown): boolean => s === undefined || s === null || s === '';
  if (signatures.every(absent)) {
    return err({
      code: 'signature_missing',
      detail:
        'no notification item has additionalData.hmacSignature: is an HMAC key set on this webhook in the Customer Area (Developers → Webhooks)?',
    });
  }

  const keys: CryptoKey[] = [];
  for (const secret of secrets) {
    const raw = fromHex(secret);
    if (raw && raw.length > 0) keys.push(await importHmacKey(raw));
  }
  if (keys.length === 0) {
    return err({
      code: 'signature_invalid',
      detail: 'no configured HMAC key is hex: paste the key exactly as the Customer Area shows it (hex, no whitespace)',
    });
  }

  for (const [i, item] of items.entries()) {
    const where = `notificationItems[${i}]`;
    const signature = signatures[i];
    if (absent(signature)) {
      return err({ code: 'signature_invalid', detail: `${where} has no additionalData.hmacSignature while other items do` });
    }
    const mac = typeof signature === 'string' && signature.length <= MAX_SIGNATURE_LENGTH ? fromBase64(signature) : undefined;
    if (mac?.length !== 32) {
      return err({
        code: 'signature_invalid',
        detail: `${where} has a malformed hmacSignature: expected the base64 of an HMAC-SHA256 (44 characters)`,
      });
    }
    const data = adyenSigningString(item);
    if (data === undefined) {
      return err({ code: 'signature_invalid', detail: `${where} has a signed field that is neither a string nor a number` });
    }
    if (!(await matchesAny(keys, mac, utf8(data)))) {
      const skipped = keys.length < secrets.length ? '; note: some configured keys are not hex and were skipped' : '';
      return err({
        code: 'signature_invalid',
        detail:
          `${where}: no hmacSignature matched: is this the HMAC key of this webhook (test and live keys differ), ` +
          `or was a signed field (pspReference, amount, eventCode, success, …) changed on the way?${skipped}`,
      });
    }
  }
  return ok({});
};

/** The `NotificationRequestItem`s of an Adyen notification body, or why it is not one. */
function readItems(body: Uint8Array): Item[] | string {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return 'the body is not JSON: Adyen standard webhooks are JSON (is the webhook set to SOAP or HTTP POST?)';
  }
  const list = typeof json === 'object' && json !== null ? (json as Item).notificationItems : undefined;
  if (!Array.isArray(list)) return 'the body has no notificationItems array: is this an Adyen standard webhook?';
  if (list.length === 0) return 'the body has no notification items to verify';
  const items: Item[] = [];
  for (const [i, entry] of list.entries()) {
    const item = typeof entry === 'object' && entry !== null ? (entry as Item).NotificationRequestItem : undefined;
    if (typeof item !== 'object' || item === null) return `notificationItems[${i}] has no NotificationRequestItem object`;
    items.push(item as Item);
  }
  return items;
}

/**
 * What Adyen signs for one NotificationRequestItem: `pspReference:originalReference:
 * merchantAccountCode:merchantReference:amount.value:amount.currency:eventCode:success`, absent
 * fields empty, joined unescaped as Adyen's HmacValidator does (the docs' escaping is for HPP
 * signatures); undefined when a field is an object or array.
 */
export function adyenSigningString(item: Record<string, unknown>): string | undefined {
  const amount = typeof item.amount === 'object' && item.amount !== null ? (item.amount as Item) : {};
  const fields = [
    item.pspReference,
    item.originalReference,
    item.merchantAccountCode,
    item.merchantReference,
    amount.value,
    amount.currency,
    item.eventCode,
    item.success,
  ];
  const parts: string[] = [];
  for (const v of fields) {
    if (v === undefined || v === null) parts.push('');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') parts.push(String(v));
    else return undefined;
  }
  return parts.join(':');
}

async function matchesAny(keys: CryptoKey[], signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  for (const key of keys) if (await verifyHmac(key, signature, data)) return true;
  return false;
}
