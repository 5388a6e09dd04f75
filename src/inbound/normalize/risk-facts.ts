// What PSP payloads say of the card, the customer and the shopper, for risk rules (README "Risk rules").
import type { PspRiskFacts } from '../../core/risk/attributes.js';

type Json = Record<string, unknown>;

const str = (x: unknown, max = 255): string | undefined => (typeof x === 'string' && x.length > 0 && x.length <= max ? x : undefined);
const obj = (x: unknown): Json | undefined => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Json) : undefined);
const country = (x: unknown): string | undefined => {
  const s = str(x, 2);
  return s && /^[A-Za-z]{2}$/.test(s) ? s.toUpperCase() : undefined;
};
const bin = (x: unknown): string | undefined => {
  const s = str(x, 8);
  return s && /^[0-9]{6,8}$/.test(s) ? s.slice(0, 6) : undefined;
};

/** Drops undefined fields (exactOptionalPropertyTypes). */
function compact(o: { [K in keyof PspRiskFacts]: PspRiskFacts[K] | undefined }): PspRiskFacts | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length > 0 ? (out as PspRiskFacts) : undefined;
}

function stringMap(x: unknown): Record<string, string> | undefined {
  const o = obj(x);
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * A Stripe PaymentIntent or Charge: `customer`, `receipt_email`, `metadata`; the charge's (or the PaymentIntent's
 * expanded `latest_charge`'s) `payment_method_details.type`, `.card.fingerprint`, `.card.country`, `.card.iin` and
 * `billing_details.email`; else an expanded `payment_method`'s `type` and `card`, else the only entry of
 * `payment_method_types`. Stripe's payloads carry no shopper IP. https://docs.stripe.com/api/charges/object
 */
export function stripeRiskFacts(object: Json): PspRiskFacts | undefined {
  const charges = obj(object.charges)?.data;
  const charge =
    object.object === 'charge' ? object : (obj(object.latest_charge) ?? (Array.isArray(charges) ? obj(charges[0]) : undefined));
  const pmd = obj(charge?.payment_method_details);
  // an expanded PaymentMethod (https://docs.stripe.com/api/payment_methods/object) has the card too
  const pm = obj(object.payment_method);
  const card = obj(pmd?.card) ?? obj(pm?.card);
  const types = object.payment_method_types;
  const onlyType = Array.isArray(types) && types.length === 1 ? str(types[0]) : undefined;
  const customer = str(object.customer) ?? str(obj(object.customer)?.id);
  return compact({
    paymentMethodType: str(pmd?.type) ?? str(pm?.type) ?? onlyType,
    cardFingerprint: str(card?.fingerprint),
    cardCountry: country(card?.country),
    cardBin: bin(card?.iin),
    customerId: customer,
    customerEmail: str(object.receipt_email) ?? str(charge?.receipt_email) ?? str(obj(charge?.billing_details)?.email),
    metadata: stringMap(object.metadata),
  });
}

/**
 * An Adyen NotificationRequestItem's `paymentMethod` and `additionalData` (`alias` as the card fingerprint, `cardBin`,
 * `issuerCountry`, `shopperReference`, `shopperEmail`, `shopperIP`, `metadata.*`), present when the merchant account
 * enables them. https://docs.adyen.com/development-resources/webhooks/additional-settings
 */
export function adyenRiskFacts(item: Json): PspRiskFacts | undefined {
  const data = obj(item.additionalData) ?? {};
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(data))
    if (k.startsWith('metadata.') && typeof v === 'string') metadata[k.slice('metadata.'.length)] = v;
  return compact({
    paymentMethodType: str(item.paymentMethod),
    cardFingerprint: str(data.alias),
    cardCountry: country(data.issuerCountry),
    cardBin: bin(data.cardBin),
    customerId: str(data.shopperReference),
    customerEmail: str(data.shopperEmail),
    ip: str(data.shopperIP, 64),
    metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
  });
}
