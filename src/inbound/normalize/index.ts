import { normalizeAdyen } from './adyen.js';
import { normalizeCheckout } from './checkout.js';
import { normalizeGoCardless } from './gocardless.js';
import { normalizeMercadoPago } from './mercadopago.js';
import { normalizePaystack } from './paystack.js';
import { normalizeRazorpay } from './razorpay.js';
import { normalizeSquare } from './square.js';
import { normalizeStandardWebhooks } from './standard-webhooks.js';
import { normalizeStripe, normalizeStripeFetched, stripeObjectToFetch } from './stripe.js';
import type { Normalized } from './types.js';
import { AppError } from '../../core/errors.js';
import type { PspObjectRef } from '../../core/psp-objects.js';

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

/**
 * Verify or fetch (README "Verify or fetch"): the PSP object a `trust: fetch` source reads back for this stored
 * body, or undefined when there is nothing to read (a type not applied, a body that cannot be read, a provider
 * without an object API): then the body is processed from its payload as usual.
 */
export function objectToFetch(provider: string, rawBody: Uint8Array): PspObjectRef | undefined {
  const body = parseBody(rawBody);
  return provider === 'stripe' && body.ok ? stripeObjectToFetch(body.value) : undefined;
}

/** {@link normalizeInbound} with `object`, the PSP's current state of {@link objectToFetch}'s object, in place of the payload's. */
export function normalizeFetched(provider: string, rawBody: Uint8Array, object: unknown): Normalized {
  const body = parseBody(rawBody);
  if (!body.ok) return { kind: 'invalid', reason: 'the body is not UTF-8 JSON' };
  if (provider !== 'stripe') return { kind: 'invalid', reason: `${provider} has no object to apply in place of the payload` };
  try {
    return normalizeStripeFetched(body.value, object);
  } catch (error) {
    if (error instanceof AppError) return { kind: 'invalid', reason: error.message };
    throw error;
  }
}

function parseBody(rawBody: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(rawBody)) };
  } catch {
    return { ok: false };
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
