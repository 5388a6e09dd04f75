import type { PulledReport } from '../../core/jobs/catalog.js';
import type { PaymentReport } from '../../core/payments/apply-event.js';

/**
 * A PSP event reduced to what Switchyard applies: which payment (the PSP's reference),
 * in which currency, and what happened to it (src/core/payments/apply-event.ts).
 */
export type NormalizedEvent = PaymentReport;

/**
 * A normalizer's answer: an event to apply, a settlement report the PSP says is ready (`report`: processing queues
 * its pull, README "Reconcile"), a type we do not map, or a body we cannot read.
 */
export type Normalized =
  | { kind: 'event'; event: NormalizedEvent }
  | { kind: 'report'; report: PulledReport }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };
