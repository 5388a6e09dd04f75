// What a source's signing secret must look like, per provider: the PSP's own format where the
// PSP generates it, a length and entropy floor where the merchant types it in. Pure; no I/O.
import { fromBase64 } from '../core/crypto.js';
import type { InboundProvider } from './verifiers/index.js';

/** One provider's signing-secret rule: `pattern`, and floors for its `key` group (the part after any prefix). */
interface SecretRule {
  /** Who makes the secret: the PSP generates it (its format is checked), or the merchant chooses it (only strength is). */
  madeBy: 'psp' | 'merchant';
  /** The format in words; it ends the 400's message on path `["secret"]`. */
  format: string;
  /** The whole secret's shape; its named group `key` is the part measured for strength. */
  pattern: RegExp;
  /** Fewest characters in the `key` part. */
  minLength: number;
  /** Fewest distinct characters in the `key` part (refuses `aaaa…`, `abab…`). */
  minDistinct: number;
  /** Least estimated entropy of the `key` part, bits. */
  minEntropyBits: number;
  /** When the `key` part is base64 of a key: the decoded key's length range, bytes. */
  decodedBytes?: { min: number; max: number };
  /** The PSP's page the format comes from. */
  source: string;
}

/** Letters and digits, plus `_` and `-`, in which PSPs print generated secrets. */
const TOKEN = '[A-Za-z0-9_-]';
/** Any characters but control characters: a merchant-chosen secret is free text. */
const FREE_TEXT = '[^\\p{Cc}]';

/** Strength floor of a generated secret: catches placeholders (`whsec_xxxxxxxx…`), not real keys. */
const GENERATED = { minDistinct: 8, minEntropyBits: 64 } as const;
/** A merchant-chosen secret: free text (no control characters) of 16+ characters, 8+ distinct, ~48 bits by the estimate. */
const CHOSEN = {
  madeBy: 'merchant',
  pattern: new RegExp(`^(?<key>${FREE_TEXT}+)$`, 'u'),
  minLength: 16,
  minDistinct: 8,
  minEntropyBits: 48,
} as const;

/** The signing-secret rule of every provider. */
export const SECRET_RULES: Readonly<Record<InboundProvider, SecretRule>> = {
  /** `whsec_` + 32 letters and digits (Dashboard) or 64 hex digits (`stripe listen`); the whole string keys the HMAC. */
  stripe: {
    madeBy: 'psp',
    format:
      'a Stripe signing secret is whsec_ followed by 24 or more letters and digits, copied whole ' +
      '(Dashboard → Webhooks → endpoint → Signing secret, or what `stripe listen` prints)',
    pattern: new RegExp(`^whsec_(?<key>${TOKEN}+)$`),
    minLength: 24,
    ...GENERATED,
    source: 'https://docs.stripe.com/webhooks/signature',
  },
  'standard-webhooks': {
    madeBy: 'psp',
    format: 'a Standard Webhooks secret is whsec_ followed by the base64 of 24 to 64 random bytes',
    pattern: /^(?:whsec_)?(?<key>[A-Za-z0-9+/]+={0,2})$/,
    minLength: 32,
    ...GENERATED,
    decodedBytes: { min: 24, max: 64 },
    source: 'https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md',
  },
  /** 64 hex characters (32 bytes) from the Customer Area; test and live keys differ. */
  adyen: {
    madeBy: 'psp',
    format: 'an Adyen HMAC key is 64 hexadecimal characters (Customer Area → Developers → Webhooks → webhook → Security → HMAC key)',
    pattern: /^(?<key>[0-9A-Fa-f]{64})$/,
    minLength: 64,
    ...GENERATED,
    source: 'https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures',
  },
  razorpay: {
    format:
      'a Razorpay webhook secret is the one you set on the webhook (Dashboard → Accounts & Settings → Webhooks); ' +
      'choose at least 16 random characters, e.g. `openssl rand -hex 24`',
    ...CHOSEN,
    source: 'https://razorpay.com/docs/webhooks/validate-test/',
  },
  checkout: {
    format:
      "a Checkout.com signature key is the one you set on the workflow's webhook action; " +
      'choose at least 16 random characters, e.g. `openssl rand -hex 24`',
    ...CHOSEN,
    source: 'https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks/set-up-your-webhook-receiver',
  },
  paystack: {
    madeBy: 'psp',
    format:
      'Paystack signs with the secret key: sk_test_ or sk_live_ followed by 32 or more letters and digits ' +
      '(Settings → API Keys & Webhooks), not the public key pk_…',
    pattern: /^sk_(?:test|live)_(?<key>[A-Za-z0-9]+)$/,
    minLength: 32,
    ...GENERATED,
    source: 'https://paystack.com/docs/payments/webhooks/',
  },
  /** Generated per subscription; those seen are 22 base64url characters (the length is undocumented). */
  square: {
    madeBy: 'psp',
    format:
      'a Square signature key is about 22 letters, digits, - and _ (Developer Console → app → Webhooks → Subscriptions → ' +
      'subscription → Signature key → Show), not an access token',
    pattern: new RegExp(`^(?<key>${TOKEN}+={0,2})$`),
    minLength: 20,
    ...GENERATED,
    source: 'https://developer.squareup.com/docs/webhooks/step2subscribe',
  },
  /** Generated, or typed in by the merchant; so only strength is checked. */
  gocardless: {
    format:
      'a GoCardless webhook endpoint secret is the one GoCardless shows on the endpoint (leave Secret blank to have it generated), ' +
      'or at least 16 random characters you chose',
    ...CHOSEN,
    source: 'https://developer.gocardless.com/getting-started/stay-up-to-date-with-webhooks-v2',
  },
  /** Generated; the format is unpublished (those seen are 64 hex digits), so the rule is loose. */
  mercadopago: {
    madeBy: 'psp',
    format:
      'a Mercado Pago secret signature is 32 or more letters and digits (Your integrations → application → Webhooks → ' +
      'Configure notifications → Save generates it)',
    pattern: /^(?<key>[A-Za-z0-9]+)$/,
    minLength: 32,
    ...GENERATED,
    source: 'https://www.mercadopago.com.mx/developers/en/docs/checkout-api-v2/notifications',
  },
};

/**
 * Estimated entropy of `text`, bits: code points × the Shannon entropy of their frequencies.
 * Catches repeats and short alphabets, not dictionary words.
 *
 * @example
 * estimateEntropyBits('abab'); // 4
 */
export function estimateEntropyBits(text: string): number {
  const chars = [...text];
  if (chars.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * chars.length;
}

/**
 * Why `secret` is not acceptable for `provider` (whitespace, shape or strength; the message
 * names the format), or undefined when it is.
 *
 * @example
 * secretProblem('stripe', 'whsec_'); // 'a Stripe signing secret is whsec_ followed by …'
 */
export function secretProblem(provider: InboundProvider, secret: string): string | undefined {
  const rule = SECRET_RULES[provider];
  if (secret !== secret.trim()) return `the secret has leading or trailing whitespace; ${rule.format}`;
  const key = rule.pattern.exec(secret)?.groups?.key;
  if (key === undefined) return rule.format;
  const length = [...key].length;
  if (length < rule.minLength) return rule.format;
  if (rule.decodedBytes) {
    const bytes = fromBase64(key)?.byteLength;
    if (bytes === undefined || bytes < rule.decodedBytes.min || bytes > rule.decodedBytes.max) return rule.format;
  }
  if (new Set(key).size < rule.minDistinct || estimateEntropyBits(key) < rule.minEntropyBits) {
    return `the secret looks like a placeholder or a pattern, not a random key; ${rule.format}`;
  }
  return undefined;
}
