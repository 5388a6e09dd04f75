import { verifyStandardWebhooks } from './standard-webhooks.js';
import { verifyStripe } from './stripe.js';
import type { Verifier } from './types.js';

/** The signature schemes a source can be configured with. */
export type InboundProvider = 'stripe' | 'standard-webhooks';

/**
 * Verifier per provider: Stripe (https://docs.stripe.com/webhooks#verify-manually) and
 * Standard Webhooks (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 */
export const verifiers: Record<InboundProvider, Verifier> = {
  stripe: verifyStripe,
  'standard-webhooks': verifyStandardWebhooks,
};

/**
 * The verifier for a provider name from configuration, or `undefined` when unknown (a
 * configuration error to report at startup, not per request).
 *
 * @example
 * const verify = verifierFor(source.provider);
 * if (!verify) throw new ValidationError(`unknown provider ${source.provider}`);
 */
export function verifierFor(provider: string): Verifier | undefined {
  // Own keys only, so "toString" or "__proto__" never resolve to a prototype member.
  return Object.hasOwn(verifiers, provider) ? verifiers[provider as InboundProvider] : undefined;
}
