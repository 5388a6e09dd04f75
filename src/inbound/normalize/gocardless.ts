import { z } from 'zod';
import type { Normalized } from './types.js';

// One element of `events` (providers.ts stores each as its own event):
// https://developer.gocardless.com/api-reference/#core-endpoints-events
const event = z.object({
  id: z.string().min(1),
  resource_type: z.string().min(1),
  action: z.string().min(1),
  links: z.record(z.string(), z.string()).optional(),
});

/**
 * Maps one GoCardless event to a Normalized answer: events carry no amount or currency, so a
 * well-formed one is `ignored` (a `payments` one would need the payment fetched); a malformed
 * one is `invalid`.
 */
export function normalizeGoCardless(body: unknown): Normalized {
  const e = event.safeParse(body);
  if (!e.success) return { kind: 'invalid', reason: 'not a GoCardless event: needs id, resource_type and action' };
  const { resource_type: resource, action } = e.data;
  if (resource === 'payments') {
    return {
      kind: 'ignored',
      reason: `GoCardless payments.${action} carries no amount or currency; fetching the payment is not built yet`,
    };
  }
  return { kind: 'ignored', reason: `GoCardless event ${resource}.${action} is not mapped` };
}
