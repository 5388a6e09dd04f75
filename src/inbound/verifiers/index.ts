import { verifyAdyen } from './adyen.js';
import { verifyCheckout } from './checkout.js';
import { verifyGoCardless } from './gocardless.js';
import { verifyMercadoPago } from './mercadopago.js';
import { verifyPaystack } from './paystack.js';
import { verifyRazorpay } from './razorpay.js';
import { makeVerifySquare } from './square.js';
import { verifyStandardWebhooks } from './standard-webhooks.js';
import { verifyStripe } from './stripe.js';
import type { Verifier } from './types.js';

/** The providers a source can be configured with (docs/http-api.md "Sources"), in the contract's order. */
export const INBOUND_PROVIDERS = [
  'stripe',
  'standard-webhooks',
  'adyen',
  'razorpay',
  'checkout',
  'paystack',
  'square',
  'gocardless',
  'mercadopago',
] as const;

/** The signature schemes a source can be configured with. */
export type InboundProvider = (typeof INBOUND_PROVIDERS)[number];

/** Verifier per provider, but Square, whose verifier needs the source's notification URL ({@link verifierForSource}). */
export const verifiers: Record<Exclude<InboundProvider, 'square'>, Verifier> = {
  stripe: verifyStripe,
  'standard-webhooks': verifyStandardWebhooks,
  adyen: verifyAdyen,
  razorpay: verifyRazorpay,
  checkout: verifyCheckout,
  paystack: verifyPaystack,
  gocardless: verifyGoCardless,
  mercadopago: verifyMercadoPago,
};

/** Whether `provider` names one of {@link INBOUND_PROVIDERS} (own names only, never a prototype member). */
function isInboundProvider(provider: string): provider is InboundProvider {
  return (INBOUND_PROVIDERS as readonly string[]).includes(provider);
}

/**
 * The verifier for a stored source, or `undefined` for an unknown provider. Square's signs the
 * source's `notificationUrl`; without one, it refuses every request with `signature_invalid`.
 *
 * @example
 * const verify = verifierForSource(source);
 * if (!verify) return notFound();
 */
export function verifierForSource(source: { provider: string; notificationUrl: string | null }): Verifier | undefined {
  if (!isInboundProvider(source.provider)) return undefined;
  if (source.provider === 'square') return makeVerifySquare(source.notificationUrl ?? '');
  return verifiers[source.provider];
}
