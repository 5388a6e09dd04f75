import { normalizeStandardWebhooks } from './standard-webhooks.js';
import { normalizeStripe } from './stripe.js';
import type { Normalized } from './types.js';

/**
 * Parses a stored inbound body and normalizes it for its provider. A body that is not
 * JSON is `invalid`. A provider without a normalizer yet is `ignored` (reason
 * `no normalizer for <provider> yet`): its verified events are stored, acked and marked
 * ignored, as CONTRACT.md says for event types Switchyard does not map.
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
      return { kind: 'ignored', reason: `no normalizer for ${provider} yet` };
  }
}
