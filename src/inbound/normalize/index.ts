import { normalizeAdyen } from './adyen.js';
import { normalizeCheckout } from './checkout.js';
import { normalizeGoCardless } from './gocardless.js';
import { normalizeMercadoPago } from './mercadopago.js';
import { normalizePaystack } from './paystack.js';
import { normalizeRazorpay } from './razorpay.js';
import { normalizeSquare } from './square.js';
import { normalizeStandardWebhooks } from './standard-webhooks.js';
import { normalizeStripe } from './stripe.js';
import type { Normalized } from './types.js';
import { AppError } from '../../core/errors.js';

/**
 * Parses a stored inbound body and normalizes it for its provider: not UTF-8 JSON (or an
 * amount minorUnits refuses) → `invalid`; a provider without a normalizer → `ignored`.
 */
export function normalizeInbound(provider: string, rawBody: Uint8Array): Normalized {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(rawBody));
  } catch {
    return { kind: 'invalid', reason: 'the body is not UTF-8 JSON' };
  }
  try {
    return normalizeFor(provider, body);
  } catch (error) {
    // an amount a normalizer's schema let through but minorUnits refuses: a reason, not a retry loop
    if (error instanceof AppError) return { kind: 'invalid', reason: error.message };
    throw error;
  }
}

function normalizeFor(provider: string, body: unknown): Normalized {
  switch (provider) {
    case 'stripe':
      return normalizeStripe(body);
    case 'standard-webhooks':
      return normalizeStandardWebhooks(body);
    case 'adyen':
      return normalizeAdyen(body);
    case 'razorpay':
      return normalizeRazorpay(body);
    case 'checkout':
      return normalizeCheckout(body);
    case 'paystack':
      return normalizePaystack(body);
    case 'square':
      return normalizeSquare(body);
    case 'gocardless':
      return normalizeGoCardless(body);
    case 'mercadopago':
      return normalizeMercadoPago(body);
    default:
      return { kind: 'ignored', reason: `no normalizer for ${provider} yet` };
  }
}
