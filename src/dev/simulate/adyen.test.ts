import { describe, expect, it } from 'vitest';
import { ADYEN_EVENT_CODES, normalizeAdyen } from '../../inbound/normalize/adyen.js';
import { verifyAdyen } from '../../inbound/verifiers/adyen.js';
import { signAdyen } from '../../inbound/verifiers/testing.js';
import { buildAdyenNotification, SIMULATED_ADYEN_EVENT_CODES, type AdyenScenario, type SimulatedAdyenEventCode } from './adyen.js';

const KEY = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

/** What the normalizer makes of the simulated notification's one item. */
function normalized(code: SimulatedAdyenEventCode, s: AdyenScenario = {}) {
  const item = buildAdyenNotification(code, { payment: 'PAYMENT0000000001', operation: 'OPERATION0000001', ...s }).notificationItems[0]!;
  const n = normalizeAdyen(item.NotificationRequestItem);
  if (n.kind !== 'event') return n;
  return { kind: n.event.kind, pspReference: n.event.pspReference, operation: n.event.operation?.outcome };
}

describe('SIMULATED_ADYEN_EVENT_CODES', () => {
  it('lists exactly the eventCodes the normalizer maps', () => {
    expect([...SIMULATED_ADYEN_EVENT_CODES].sort()).toEqual(Object.keys(ADYEN_EVENT_CODES).sort());
  });

  it.each([
    ['AUTHORISATION', true, 'authorized', undefined],
    ['AUTHORISATION', false, 'failed', undefined],
    ['CAPTURE', true, 'captured', 'succeeded'],
    ['CAPTURE', false, 'capture_failed', 'failed'],
    ['CAPTURE_FAILED', true, 'capture_failed', 'failed'],
    ['REFUND', true, 'refunded', 'succeeded'],
    ['REFUND', false, 'refund_failed', 'failed'],
    ['REFUND_FAILED', true, 'refund_failed', 'failed'],
    ['CANCELLATION', true, 'voided', 'succeeded'],
    ['CANCELLATION', false, 'voided', 'failed'],
    ['NOTIFICATION_OF_CHARGEBACK', true, 'dispute_opened', 'open'],
    ['CHARGEBACK', true, 'dispute_lost', 'lost'],
    ['CHARGEBACK_REVERSED', true, 'dispute_reversed', 'reversed'],
  ] as const)('builds %s (success %s) as an item the normalizer maps to %s on the payment', (code, success, kind, outcome) => {
    expect(normalized(code, { success })).toEqual({ kind, pspReference: 'PAYMENT0000000001', operation: outcome });
  });

  it('signs, with signAdyen, into a body the Adyen verifier accepts', async () => {
    const body = await signAdyen(buildAdyenNotification('REFUND', { amount: 700, merchantReference: 'order-7' }), KEY);
    const verdict = await verifyAdyen({
      body: new TextEncoder().encode(body),
      headers: {},
      secrets: [KEY],
      toleranceSeconds: 300,
      now: new Date(),
    });
    expect(verdict.ok).toBe(true);
  });
});
