import type { Decimal } from 'decimal.js';
import type { PaymentEvent } from '../../core/payments/state-machine.js';

/** A payment to create at the PSP. Amounts are integer minor units; `currency` ISO 4217 upper case. */
export interface CreatePaymentCall {
  amount: Decimal;
  currency: string;
  captureMethod: 'automatic' | 'manual';
  merchantReference: string;
  /** Stripe: a PaymentMethod id (`pm_card_visa`); Adyen: the `paymentMethod` object. */
  paymentMethod?: string | Record<string, unknown>;
  customer?: { reference?: string; email?: string; name?: string };
  metadata?: Record<string, string>;
}

/**
 * What the PSP answered to one call, PSP-neutral:
 * - `answered`: `event` is the payment's new state (cumulative, so the later webhook changes
 *   nothing); `outcome` is the operation's: `succeeded`, `submitted` (result by webhook) or
 *   `failed` (a decline, see `failure`).
 * - `unknown`: timeout, network error, 5xx or 429; it may have taken effect, so never a failure.
 * - `rejected`: a 4xx other than a decline; nothing happened at the PSP.
 */
export type PspResult =
  | {
      kind: 'answered';
      pspReference: string;
      operationReference?: string;
      outcome: 'succeeded' | 'submitted' | 'failed';
      event?: PaymentEvent;
      failure?: { code: string; message: string };
    }
  | { kind: 'unknown'; reason: string }
  | { kind: 'rejected'; httpStatus: number; code: string; message: string };

/**
 * A PSP connector: one method per payment operation, each sent with `pspKey` as the PSP's
 * own `Idempotency-Key`, so a re-sent call never acts twice at the PSP.
 */
export interface Connector {
  createPayment(call: CreatePaymentCall, pspKey: string): Promise<PspResult>;
  /** `amount` null: the full remaining amount (Stripe); Adyen needs it, the caller passes it. */
  capture(pspReference: string, amount: Decimal | null, currency: string, pspKey: string): Promise<PspResult>;
  cancel(pspReference: string, pspKey: string): Promise<PspResult>;
  refund(pspReference: string, amount: Decimal, currency: string, pspKey: string): Promise<PspResult>;
  /** The payment's current state at the PSP (Stripe); absent where the PSP has no GET (Adyen). */
  retrieve?(pspReference: string): Promise<PspResult>;
}

/** How connectors call PSPs. */
export interface ConnectorOptions {
  /** Per-call timeout, ms (AbortSignal.timeout). */
  timeoutMs: number;
  /** The fetch to use; the global one by default (msw intercepts it in tests). */
  fetch?: typeof fetch;
  /** `SWITCHYARD_ALLOW_PRIVATE_URLS`: allow an `http:` apiBaseUrl (local stand-ins). */
  allowHttp?: boolean;
}
