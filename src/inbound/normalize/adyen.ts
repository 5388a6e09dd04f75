import { z } from 'zod';
import { minorUnits, normalizeCurrency } from '../../core/money.js';
import type { OperationKind, OperationOutcome } from '../../core/payments/payment-state.js';
import { isOperationId, OPERATION_METADATA_KEY } from '../../core/payments/operation-ids.js';
import { adyenRiskFacts } from './risk-facts.js';
import type { Normalized, NormalizedEvent } from './types.js';

const amount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * One `NotificationRequestItem` of an Adyen standard webhook, as stored (providers.ts stores
 * each item of `notificationItems` as its own event). `success` is the string "true"/"false"
 * in JSON webhooks; a boolean is accepted too.
 * https://docs.adyen.com/development-resources/webhooks/webhook-types
 */
const adyenNotificationItem = z.object({
  eventCode: z.string().min(1),
  pspReference: z.string().min(1).max(255),
  originalReference: z.string().max(255).optional(),
  merchantReference: z.string().max(255).optional(),
  success: z.union([z.enum(['true', 'false']), z.boolean()]),
  amount: z.object({ value: amount, currency: z.string() }),
  additionalData: z.record(z.string(), z.unknown()).nullish(),
});

/**
 * Adyen's REPORT_AVAILABLE: `pspReference` is the report's file name, `reason` its download URL
 * (https://docs.adyen.com/reporting/report-webhooks). Only settlement details reports are pulled.
 */
const reportAvailable = z.object({
  eventCode: z.literal('REPORT_AVAILABLE'),
  pspReference: z.string().min(1).max(255),
  reason: z.string().max(2048).optional(),
  success: z.union([z.enum(['true', 'false']), z.boolean()]).optional(),
});

/** The file names of Adyen's Settlement details reports (`settlement_detail_report_batch_<n>.csv`). */
const SETTLEMENT_DETAIL_REPORT = /^settlement_detail_report_batch_\d+\.csv$/;

/** An Adyen REPORT_AVAILABLE item as a report to pull, or why not; undefined for other eventCodes. */
function normalizeAdyenReport(body: unknown): Normalized | undefined {
  if ((body as { eventCode?: unknown } | null)?.eventCode !== 'REPORT_AVAILABLE') return undefined;
  const r = reportAvailable.safeParse(body);
  if (!r.success) return { kind: 'invalid', reason: 'REPORT_AVAILABLE without a file name in pspReference' };
  if (!SETTLEMENT_DETAIL_REPORT.test(r.data.pspReference)) {
    return { kind: 'ignored', reason: `report ${r.data.pspReference} is not a settlement details report` };
  }
  if (!r.data.reason) return { kind: 'invalid', reason: `REPORT_AVAILABLE ${r.data.pspReference} without a download URL in reason` };
  return { kind: 'report', report: { kind: 'adyen_report', fileName: r.data.pspReference, url: r.data.reason } };
}

/** What each Adyen eventCode Switchyard maps means; `payment` says where the payment's reference is. */
export const ADYEN_EVENT_CODES = {
  AUTHORISATION: 'authorized or failed (success false); the payment is pspReference',
  CAPTURE: 'a capture operation (its own pspReference) succeeded, or failed when success is false',
  CAPTURE_FAILED: 'a capture operation failed after it succeeded: reversed',
  REFUND: 'a refund operation (its own pspReference) succeeded, or failed when success is false',
  REFUND_FAILED: 'a refund operation failed after it succeeded: reversed',
  CANCELLATION: 'the authorisation was voided (a void operation), or the void failed when success is false',
  NOTIFICATION_OF_CHARGEBACK: 'a dispute (its own pspReference) was opened',
  CHARGEBACK: 'a dispute was lost: the funds were debited',
  CHARGEBACK_REVERSED: 'a lost dispute was reversed: the funds came back',
} as const;

/**
 * Maps one Adyen notification item (https://docs.adyen.com/development-resources/webhooks/webhook-types)
 * to a NormalizedEvent ({@link ADYEN_EVENT_CODES}). The payment is AUTHORISATION's
 * `pspReference`, else `originalReference`; a modification's or dispute's own `pspReference`
 * names the operation, whose amount is that operation's alone. REPORT_AVAILABLE of a settlement details report is a
 * report to pull. Other eventCodes → ignored.
 */
export function normalizeAdyen(body: unknown): Normalized {
  const report = normalizeAdyenReport(body);
  if (report) return report;
  const p = adyenNotificationItem.safeParse(body);
  if (!p.success) {
    return {
      kind: 'invalid',
      reason: `not an Adyen NotificationRequestItem: ${p.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    };
  }
  const item = p.data;
  const success = item.success === true || item.success === 'true';
  const currency = normalizeCurrency(item.amount.currency);
  if (!currency) return { kind: 'invalid', reason: `invalid currency ${item.amount.currency}` };
  const value = minorUnits(item.amount.value);
  // The operation that created the payment, echoed from the /payments request's metadata.
  const operationId = item.additionalData?.[`metadata.${OPERATION_METADATA_KEY}`];
  const riskFacts =
    item.eventCode === 'AUTHORISATION' || item.eventCode === 'CAPTURE' ? adyenRiskFacts(body as Record<string, unknown>) : undefined;
  const withRef = (ev: NormalizedEvent): Normalized => ({
    kind: 'event',
    event: {
      ...ev,
      ...(riskFacts ? { riskFacts } : {}),
      ...(item.merchantReference ? { merchantReference: item.merchantReference } : {}),
      ...(typeof operationId === 'string' && isOperationId(operationId) ? { operationId } : {}),
    },
  });

  if (item.eventCode === 'AUTHORISATION') {
    return withRef({ kind: success ? 'authorized' : 'failed', pspReference: item.pspReference, currency, amount: value });
  }
  if (!(item.eventCode in ADYEN_EVENT_CODES)) return { kind: 'ignored', reason: `Adyen eventCode ${item.eventCode} is not mapped` };
  if (!item.originalReference) return { kind: 'invalid', reason: `Adyen ${item.eventCode} without originalReference` };
  const payment = item.originalReference;
  const op = (kind: OperationKind, outcome: OperationOutcome) => ({ kind, reference: item.pspReference, outcome, amount: value });
  switch (item.eventCode as keyof typeof ADYEN_EVENT_CODES) {
    case 'CAPTURE':
      return withRef(
        success
          ? { kind: 'captured', pspReference: payment, currency, operation: op('capture', 'succeeded') }
          : { kind: 'capture_failed', pspReference: payment, currency, operation: op('capture', 'failed') },
      );
    case 'CAPTURE_FAILED':
      return withRef({ kind: 'capture_failed', pspReference: payment, currency, operation: op('capture', 'failed') });
    case 'REFUND':
      return withRef(
        success
          ? { kind: 'refunded', pspReference: payment, currency, operation: op('refund', 'succeeded') }
          : { kind: 'refund_failed', pspReference: payment, currency, operation: op('refund', 'failed') },
      );
    case 'REFUND_FAILED':
      return withRef({ kind: 'refund_failed', pspReference: payment, currency, operation: op('refund', 'failed') });
    case 'CANCELLATION':
      return withRef({ kind: 'voided', pspReference: payment, currency, operation: op('void', success ? 'succeeded' : 'failed') });
    case 'NOTIFICATION_OF_CHARGEBACK':
      return withRef({ kind: 'dispute_opened', pspReference: payment, currency, operation: op('dispute', 'open') });
    case 'CHARGEBACK':
      return withRef({ kind: 'dispute_lost', pspReference: payment, currency, operation: op('dispute', 'lost') });
    case 'CHARGEBACK_REVERSED':
      return withRef({ kind: 'dispute_reversed', pspReference: payment, currency, operation: op('dispute', 'reversed') });
    default:
      return { kind: 'ignored', reason: `Adyen eventCode ${item.eventCode} is not mapped` };
  }
}
