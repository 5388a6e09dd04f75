import { normalizeStandardWebhooks } from './standard-webhooks.js';
import { normalizeStripe } from './stripe.js';
import type { Normalized } from './types.js';

/**
 * Parses a stored inbound body and normalizes it for its provider. A body that is not
 * JSON, or a provider without a normalizer, is `invalid`.
 */
export function normalizeInbound(provider: string, rawBody: Uint8Array): Normalized {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(rawBody));
  } catch {
    return { kind: 'invalid', reason: 'the body is not UTF-8 JSON' };
  }
  switch (provider) {
    case 'stripe':
      return normalizeStripe(body);
    case 'standard-webhooks':
      return normalizeStandardWebhooks(body);
    default:
      return { kind: 'invalid', reason: `no normalizer for provider ${provider}` };
  }
}
