import type { ValidationIssue } from '../core/errors.js';
import { OPERATION_METADATA_KEY } from '../core/payments/operation-ids.js';

/**
 * A PSP's limits on the metadata of a payment, and how many of its keys Switchyard itself
 * uses (the create call adds `switchyard_op`; Stripe's also `merchant_reference` and, with a
 * customer reference, `customer_reference`).
 */
interface MetadataLimits {
  maxKeys: number;
  reservedKeys: number;
  maxKeyLength: number;
  maxValueLength: number;
  /** The PSP's page that states the limits. */
  source: string;
}

const LIMITS: Record<string, MetadataLimits> = {
  stripe: { maxKeys: 50, reservedKeys: 3, maxKeyLength: 40, maxValueLength: 500, source: 'https://docs.stripe.com/api/metadata' },
  adyen: {
    maxKeys: 20,
    reservedKeys: 1,
    maxKeyLength: 20,
    maxValueLength: 80,
    source: 'https://docs.adyen.com/api-explorer/Checkout/71/post/payments#request-metadata',
  },
};

/**
 * The problems with `metadata` at `provider` (path `["metadata"]` or `["metadata", key]`):
 * too many keys with Switchyard's own, a key or value too long per LIMITS, or a key
 * Switchyard sets itself. Empty when it fits or no limits are known.
 */
export function metadataIssues(provider: string, metadata: Record<string, string>): ValidationIssue[] {
  const limits = LIMITS[provider];
  if (!limits) return [];
  const issues: ValidationIssue[] = [];
  const keys = Object.keys(metadata);
  const allowed = limits.maxKeys - limits.reservedKeys;
  if (keys.length > allowed) {
    issues.push({
      path: ['metadata'],
      message: `at most ${allowed} keys (${provider} allows ${limits.maxKeys}, Switchyard uses ${limits.reservedKeys})`,
    });
  }
  for (const key of keys) {
    if (key === OPERATION_METADATA_KEY) issues.push({ path: ['metadata', key], message: `${key} is set by Switchyard` });
    else if (key.length > limits.maxKeyLength)
      issues.push({ path: ['metadata', key], message: `keys are at most ${limits.maxKeyLength} characters at ${provider}` });
    if (metadata[key]!.length > limits.maxValueLength)
      issues.push({ path: ['metadata', key], message: `values are at most ${limits.maxValueLength} characters at ${provider}` });
  }
  return issues;
}
