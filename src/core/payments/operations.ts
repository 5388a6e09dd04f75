/**
 * The ONE place where the payments API touches the payments core (src/core/payments,
 * src/core/ledger, src/outbound/messages): a PSP's API answer is applied exactly as
 * src/inbound/process-event.task.ts applies a webhook (lock or create the payment by
 * (source, PSP reference) → state machine → transitions → save → merchant events →
 * ledger), so the answer and the later webhook land on the same state machine and the
 * cumulative totals make the second one a no-op. Re-point these functions when the
 * operations model (captures and refunds as rows) lands.
 */
import type { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { applyPaymentReport } from './apply-event.js';
import { getPayment, lockOrCreatePayment, savePaymentOutcome, type Payment } from './payment-store.js';
import { paymentView } from './payment-view.js';
import type { PaymentEvent } from './state-machine.js';

export { getPayment, paymentView, type Payment };

/** The provisional PSP reference of a payment whose create call has no answer yet. */
export const pendingReference = (operationId: string): string => `pending:${operationId}`;

/** True when the payment's PSP reference is still provisional. */
export const hasPendingReference = (p: Payment): boolean => p.pspReference.startsWith('pending:');

/**
 * Locks (or creates, `pending`) the payment for (source, PSP reference) and applies `event`
 * (null: only make sure the payment exists) through the payments core's
 * `applyPaymentReport` (src/core/payments/apply-event.ts), exactly as a webhook is applied,
 * with `cause` (the operation id) on its operation rows, transitions, merchant events
 * (`dedupeKey` `<cause>:<type>`) and ledger transactions. A duplicate or stale event
 * changes nothing visible. Returns the payment as saved. Throws on database errors, and an
 * Error when the payment exists in another currency (a connector bug: the API checks it).
 */
export async function applyPspEvent(
  tx: Tx,
  input: {
    merchantId: string;
    sourceId: string;
    pspReference: string;
    currency: string;
    amount: Decimal;
    merchantReference: string | null;
    event: PaymentEvent | null;
    cause: string;
    now: Date;
  },
): Promise<Payment> {
  if (!input.event) {
    const { payment, created } = await lockOrCreatePayment(tx, {
      merchantId: input.merchantId,
      sourceId: input.sourceId,
      pspReference: input.pspReference,
      currency: input.currency,
      amount: input.amount,
      merchantReference: input.merchantReference,
      now: input.now,
    });
    if (!created) return payment;
    // only the `null → pending` transition of a payment seen for the first time, with its cause
    return savePaymentOutcome(tx, payment, {
      outcome: { state: payment, steps: [], postings: [], newOperations: [], events: [], stale: true, factsChanged: false },
      created: true,
      cause: input.cause,
      merchantReference: input.merchantReference,
      now: input.now,
      touch: true,
    });
  }
  const applied = await applyPaymentReport(tx, {
    merchantId: input.merchantId,
    sourceId: input.sourceId,
    cause: input.cause,
    now: input.now,
    report: {
      ...input.event,
      amount: input.event.amount ?? input.amount,
      pspReference: input.pspReference,
      currency: input.currency,
      ...(input.merchantReference === null ? {} : { merchantReference: input.merchantReference }),
    },
  });
  if (applied.result === 'currency_mismatch') throw new Error(applied.reason);
  return applied.payment;
}

/**
 * Gives a payment created with a provisional reference ({@link pendingReference}) its real
 * PSP reference, so the webhooks that name it find it. Returns false when the payment
 * already has a real reference (nothing changed). The 0011 trigger refuses to let a
 * webhook create a second payment for this reference while the operation is unresolved.
 */
export async function resolvePendingReference(tx: Tx, paymentId: string, pspReference: string): Promise<boolean> {
  const rows = await tx`
    update gw.payments
       set psp_reference = ${pspReference}
     where id = ${paymentId} and psp_reference like 'pending:%'
    returning id`;
  return rows.length > 0;
}

/**
 * Links payments created through the payments API to the PSP references their webhooks
 * name, when a webhook says which operation created its payment (PaymentReport.operationId,
 * from the `switchyard_op` metadata): the operation's `psp_reference`, if still unknown, and
 * the payment's provisional `pending:<operation id>` reference become `pspReference`, so the
 * report is then applied to that payment instead of creating a second one (which the 0011
 * trigger would otherwise refuse until the status sync learned the reference). Only
 * within the same source; a reference another payment of the source already has is left
 * alone. Runs in the caller's transaction, before the reports are applied.
 */
export async function claimPendingReferences(
  tx: Tx,
  claims: readonly { sourceId: string; operationId: string; pspReference: string }[],
): Promise<void> {
  if (claims.length === 0) return;
  await tx`
    with c as (
      select distinct on ("operationId") *
        from json_to_recordset(${tx.json(claims as { sourceId: string; operationId: string; pspReference: string }[])}::json)
               as c("sourceId" text, "operationId" text, "pspReference" text)
       order by "operationId"
    ), ops as (
      update gw.psp_operations o set psp_reference = c."pspReference", updated_at = now()
        from c
       where o.id = c."operationId" and o.source_id = c."sourceId" and o.kind = 'create' and o.psp_reference is null
      returning o.id
    )
    update gw.payments p set psp_reference = c."pspReference"
      from c
     where p.source_id = c."sourceId" and p.psp_reference = 'pending:' || c."operationId"
       and not exists (select 1 from gw.payments q where q.source_id = c."sourceId" and q.psp_reference = c."pspReference")`;
}

/**
 * Settles payments API operations that the PSP accepted and settles by webhook (Adyen
 * modifications, Stripe refunds still pending: status `submitted`, or `pending` after a
 * timeout) when a webhook reports their outcome: the operation whose `operation_reference`
 * (the PSP's reference of that capture, refund or cancel) on the same source is the report's
 * operation reference becomes `succeeded` or `failed`. Other outcomes (a dispute's, a later
 * reversal of a capture or refund) leave the operation as it is. Runs in the caller's
 * transaction, with the reports applied.
 */
export async function settleOperationsByWebhook(
  tx: Tx,
  reports: readonly { sourceId: string; reference: string; outcome: 'succeeded' | 'failed' }[],
): Promise<void> {
  if (reports.length === 0) return;
  await tx`
    update gw.psp_operations o set status = x.outcome, updated_at = now()
      from json_to_recordset(${tx.json(reports as { sourceId: string; reference: string; outcome: string }[])}::json)
             as x("sourceId" text, reference text, outcome text)
     where o.source_id = x."sourceId" and o.operation_reference = x.reference
       and o.kind in ('capture', 'void', 'refund') and o.status in ('submitted', 'pending')`;
}

/** The merchant's payment locked `for update`, or undefined. */
export async function lockPayment(tx: Tx, merchantId: string, id: string): Promise<Payment | undefined> {
  const [row] = await tx<{ id: string }[]>`select id from gw.payments where id = ${id} and merchant_id = ${merchantId} for update`;
  return row ? getPayment(tx, merchantId, row.id) : undefined;
}
