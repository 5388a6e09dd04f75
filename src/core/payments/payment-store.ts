import { Decimal } from 'decimal.js';
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import { toJsonAmount, toMinorText } from '../money.js';
import type { PaymentState, PaymentStatus } from './state-machine.js';

/** A payment row; amounts in minor units as Decimal. */
export interface Payment extends PaymentState {
  id: string;
  merchantId: string;
  sourceId: string;
  pspReference: string;
  currency: string;
  merchantReference: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

interface PaymentDbRow {
  id: string;
  merchant_id: string;
  source_id: string;
  psp_reference: string;
  status: PaymentStatus;
  amount: string;
  currency: string;
  captured_amount: string;
  refunded_amount: string;
  merchant_reference: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const toPayment = (r: PaymentDbRow): Payment => ({
  id: r.id,
  merchantId: r.merchant_id,
  sourceId: r.source_id,
  pspReference: r.psp_reference,
  status: r.status,
  amount: new Decimal(r.amount),
  currency: r.currency,
  capturedAmount: new Decimal(r.captured_amount),
  refundedAmount: new Decimal(r.refunded_amount),
  merchantReference: r.merchant_reference,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/**
 * The payment as `GET /v1/payments/{id}` returns it (CONTRACT.md "Payments"), and as the
 * `data` of merchant-facing events.
 */
export function paymentView(p: Payment): Record<string, unknown> {
  return {
    id: p.id,
    sourceId: p.sourceId,
    pspReference: p.pspReference,
    status: p.status,
    amount: toJsonAmount(p.amount),
    currency: p.currency,
    capturedAmount: toJsonAmount(p.capturedAmount),
    refundedAmount: toJsonAmount(p.refundedAmount),
    merchantReference: p.merchantReference,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

/**
 * The payment for (source, PSP reference), created `pending` on first sight, locked
 * `for update` for the rest of the caller's transaction. Concurrent first sights of the
 * same payment serialize on the unique key; the loser reads the winner's row.
 */
export async function lockOrCreatePayment(
  tx: Tx,
  input: { merchantId: string; sourceId: string; pspReference: string; currency: string; amount: Decimal; merchantReference: string | null; now: Date },
): Promise<{ payment: Payment; created: boolean }> {
  const inserted = await tx<{ id: string }[]>`
    insert into gw.payments (id, merchant_id, source_id, psp_reference, status, amount, currency, merchant_reference,
                             created_at, updated_at)
    values (${newId('pay', input.now)}, ${input.merchantId}, ${input.sourceId}, ${input.pspReference}, 'pending',
            ${toMinorText(input.amount)}, ${input.currency}, ${input.merchantReference}, ${input.now}, ${input.now})
    on conflict (source_id, psp_reference) do nothing
    returning id`;
  const [row] = await tx<PaymentDbRow[]>`
    select * from gw.payments
     where source_id = ${input.sourceId} and psp_reference = ${input.pspReference}
       for update`;
  return { payment: toPayment(row!), created: inserted.length > 0 };
}

/**
 * Writes a payment's new state under its optimistic `version` (the row is locked, so a
 * mismatch means a bug); throws an Error if no row matched.
 */
export async function savePayment(tx: Tx, p: Payment, next: PaymentState & { merchantReference: string | null }, now: Date): Promise<Payment> {
  const [row] = await tx<PaymentDbRow[]>`
    update gw.payments
       set status = ${next.status},
           amount = ${toMinorText(next.amount)},
           captured_amount = ${toMinorText(next.capturedAmount)},
           refunded_amount = ${toMinorText(next.refundedAmount)},
           merchant_reference = coalesce(merchant_reference, ${next.merchantReference}),
           version = version + 1,
           updated_at = ${now}
     where id = ${p.id} and version = ${p.version}
     returning *`;
  if (!row) throw new Error(`payment ${p.id} changed under its lock (version ${p.version})`);
  return toPayment(row);
}

/** Appends audit rows: one per status move, with the inbound event that caused it. */
export async function insertTransitions(
  tx: Tx,
  paymentId: string,
  steps: { from: PaymentStatus | null; to: PaymentStatus }[],
  cause: string,
  at: Date,
): Promise<void> {
  for (const s of steps) {
    await tx`
      insert into gw.payment_transitions (payment_id, from_status, to_status, cause, at)
      values (${paymentId}, ${s.from}, ${s.to}, ${cause}, ${at})`;
  }
}

/** One of the merchant's payments, or undefined. */
export async function getPayment(tx: Tx, merchantId: string, id: string): Promise<Payment | undefined> {
  const [row] = await tx<PaymentDbRow[]>`select * from gw.payments where id = ${id} and merchant_id = ${merchantId}`;
  return row && toPayment(row);
}

/** The merchant's payments, newest first, filtered; `limit + 1` rows (see toPage). */
export async function listPayments(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string; status?: string; pspReference?: string; sourceId?: string },
): Promise<Payment[]> {
  const rows = await tx<PaymentDbRow[]>`
    select * from gw.payments
     where merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and id < ${q.startingAfter}` : tx``}
       ${q.status ? tx`and status = ${q.status}` : tx``}
       ${q.pspReference ? tx`and psp_reference = ${q.pspReference}` : tx``}
       ${q.sourceId ? tx`and source_id = ${q.sourceId}` : tx``}
     order by id desc
     limit ${q.limit + 1}`;
  return rows.map(toPayment);
}

/** A payment's audit trail, oldest first. */
export async function listTransitions(
  tx: Tx,
  paymentId: string,
): Promise<{ from: string | null; to: string; cause: string; at: Date }[]> {
  return tx<{ from: string | null; to: string; cause: string; at: Date }[]>`
    select from_status as "from", to_status as "to", cause, at
      from gw.payment_transitions
     where payment_id = ${paymentId}
     order by id`;
}
