import { describe, expect, it } from 'vitest';
import { normalizeGoCardless } from './gocardless.js';

// One element of `events`, shaped after https://developer.gocardless.com/api-reference/#core-endpoints-events
const event = (resource_type: string, action: string, links: Record<string, string>) => ({
  id: 'EV123',
  created_at: '2014-04-08T17:01:06.000Z',
  resource_type,
  action,
  details: { origin: 'gocardless', cause: 'payment_confirmed', description: 'Payment was confirmed as collected' },
  metadata: {},
  links,
});

describe('normalizeGoCardless', () => {
  it.each(['confirmed', 'paid_out', 'failed'])('ignores payments.%s because the event carries no amount or currency', (action) => {
    expect(normalizeGoCardless(event('payments', action, { payment: 'PM123' }))).toEqual({
      kind: 'ignored',
      reason: `GoCardless payments.${action} carries no amount or currency; fetching the payment is not built yet`,
    });
  });

  it('ignores resource types it does not map', () => {
    expect(normalizeGoCardless(event('mandates', 'active', { mandate: 'MD123' }))).toEqual({
      kind: 'ignored',
      reason: 'GoCardless event mandates.active is not mapped',
    });
  });

  it('answers invalid for an item without resource_type or action', () => {
    expect(normalizeGoCardless({ id: 'EV1', action: 'confirmed' }).kind).toBe('invalid');
    expect(normalizeGoCardless({ id: 'EV1', resource_type: 'payments' }).kind).toBe('invalid');
    expect(normalizeGoCardless([]).kind).toBe('invalid');
  });
});
