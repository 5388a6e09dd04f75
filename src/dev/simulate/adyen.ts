import { randomBytes } from '../../core/crypto.js';

/** The Adyen eventCodes the simulator builds: every code the normalizer maps (a unit test keeps them equal). */
export const SIMULATED_ADYEN_EVENT_CODES = [
  'AUTHORISATION',
  'CAPTURE',
  'CAPTURE_FAILED',
  'REFUND',
  'REFUND_FAILED',
  'CANCELLATION',
  'NOTIFICATION_OF_CHARGEBACK',
  'CHARGEBACK',
  'CHARGEBACK_REVERSED',
] as const;

/** One of {@link SIMULATED_ADYEN_EVENT_CODES}. */
export type SimulatedAdyenEventCode = (typeof SIMULATED_ADYEN_EVENT_CODES)[number];

/** What varies between simulated notifications; amounts in minor units. */
export interface AdyenScenario {
  /** The payment's pspReference: AUTHORISATION's own, the others' `originalReference`; made up when omitted. */
  payment?: string;
  /** A modification's or dispute's own pspReference (not used by AUTHORISATION); made up when omitted. */
  operation?: string;
  /** Default 2000. */
  amount?: number;
  /** Upper case, as Adyen sends it; default EUR. */
  currency?: string;
  /** Adyen's `success`; default true (false: a refused authorisation, a failed capture, refund or cancellation). */
  success?: boolean;
  /** Default `SwitchyardSimulated`. */
  merchantAccount?: string;
  merchantReference?: string;
  /** Event time; defaults to now. */
  at?: Date;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A made-up 16-character pspReference, as Adyen's look. */
export const adyenReference = (): string => Array.from(randomBytes(16), (b) => ALPHABET[b % ALPHABET.length]).join('');

/**
 * An Adyen standard webhook (https://docs.adyen.com/development-resources/webhooks/webhook-types)
 * with one `NotificationRequestItem` of `eventCode`, unsigned: sign it with `signAdyen` (which adds
 * `additionalData.hmacSignature`) and post the bytes it returns.
 *
 * @example
 * const body = await signAdyen(buildAdyenNotification('CAPTURE', { payment: 'PSP1', amount: 1500 }), hmacKeyHex);
 */
export function buildAdyenNotification(
  eventCode: SimulatedAdyenEventCode,
  s: AdyenScenario = {},
): { live: 'false'; notificationItems: { NotificationRequestItem: Record<string, unknown> }[] } {
  const payment = s.payment ?? adyenReference();
  const success = s.success ?? true;
  const item: Record<string, unknown> = {
    additionalData: {},
    amount: { value: s.amount ?? 2000, currency: s.currency ?? 'EUR' },
    eventCode,
    eventDate: (s.at ?? new Date()).toISOString(),
    merchantAccountCode: s.merchantAccount ?? 'SwitchyardSimulated',
    merchantReference: s.merchantReference ?? '',
    pspReference: eventCode === 'AUTHORISATION' ? payment : (s.operation ?? adyenReference()),
    ...(eventCode === 'AUTHORISATION' ? {} : { originalReference: payment }),
    reason: success ? '' : eventCode === 'AUTHORISATION' ? 'Refused' : 'Simulated failure',
    success: String(success),
  };
  return { live: 'false', notificationItems: [{ NotificationRequestItem: item }] };
}

/**
 * An Adyen REPORT_AVAILABLE webhook (https://docs.adyen.com/reporting/report-webhooks), unsigned: `pspReference` is the
 * report's file name, `reason` its download URL. Sign it with `signAdyen`.
 */
export function buildAdyenReportAvailable(
  fileName: string,
  url: string,
  s: { merchantAccount?: string; at?: Date } = {},
): { live: 'false'; notificationItems: { NotificationRequestItem: Record<string, unknown> }[] } {
  const item: Record<string, unknown> = {
    additionalData: {},
    amount: { value: 0, currency: 'EUR' },
    eventCode: 'REPORT_AVAILABLE',
    eventDate: (s.at ?? new Date()).toISOString(),
    merchantAccountCode: s.merchantAccount ?? 'SwitchyardSimulated',
    merchantReference: '',
    pspReference: fileName,
    reason: url,
    success: 'true',
  };
  return { live: 'false', notificationItems: [{ NotificationRequestItem: item }] };
}
