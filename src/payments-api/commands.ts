/** Settings of the payments API; all have defaults. */
export interface PaymentCommandOptions {
  /** Timeout of one PSP call, ms (default 15 000). */
  pspTimeoutMs?: number;
  /** Age after which an idempotency key's lock is taken as abandoned, seconds (default 60). */
  lockTimeoutSeconds?: number;
  /** Delay before the first status sync of an operation whose outcome is unknown, seconds (default 30). */
  syncDelaySeconds?: number;
  /** The fetch connectors use (default: `deps.pspFetch`, else the global fetch). */
  fetch?: typeof fetch;
}

/** `POST /v1/payments` body (validated); amounts in minor units, currency ISO 4217 upper case. */
export interface CreatePaymentInput {
  amount: number;
  currency: string;
  sourceId: string;
  merchantReference: string;
  captureMethod: 'automatic' | 'manual';
  paymentMethod?: string | Record<string, unknown>;
  /** `ip` and `ipCountry` (ISO 3166-1 alpha-2) are for risk rules only: not sent to the PSP. */
  customer?: { reference?: string; email?: string; name?: string; ip?: string; ipCountry?: string };
  metadata?: Record<string, string>;
}

/** One merchant command. */
export type PaymentCommand =
  | { kind: 'create'; input: CreatePaymentInput }
  | { kind: 'capture'; paymentId: string; amount?: number }
  | { kind: 'void'; paymentId: string }
  | { kind: 'refund'; paymentId: string; amount?: number }
  /** Approve or reject a risk review (README "Risk rules"); a rejection refunds or voids the payment through the PSP. */
  | { kind: 'review'; reviewId: string; decision: 'approve' | 'reject'; reason?: string };
