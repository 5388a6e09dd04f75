import type { PaymentEvent } from '../../core/payments/state-machine.js';

/**
 * A PSP event reduced to what Switchyard applies: which payment (the PSP's reference),
 * in which currency, and what happened to it.
 */
export interface NormalizedEvent extends PaymentEvent {
  pspReference: string;
  /** ISO 4217, upper case. */
  currency: string;
  merchantReference?: string;
}

/** A normalizer's answer: an event to apply, a type we do not map, or a body we cannot read. */
export type Normalized =
  | { kind: 'event'; event: NormalizedEvent }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };
