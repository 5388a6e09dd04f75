import { Decimal } from 'decimal.js';
import type postgres from 'postgres';
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import { toMinorText } from '../money.js';

/** The kinds of PSP operation a merchant command makes. */
export type OperationKind = 'create' | 'capture' | 'void' | 'refund';
/** An operation's status (sql/0011_payments_api.sql). */
export type OperationStatus = 'requested' | 'pending' | 'submitted' | 'succeeded' | 'failed';

/** One PSP operation; amounts in minor units. */
export interface PspOperation {
  id: string;
  merchantId: string;
  sourceId: string;
  paymentId: string | null;
  kind: OperationKind;
  amount: Decimal | null;
  currency: string;
  pspIdempotencyKey: string;
  request: Record<string, unknown>;
  status: OperationStatus;
  pspReference: string | null;
  operationReference: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  syncAttempts: number;
  createdAt: Date;
  updatedAt: Date;
}

interface DbRow {
  id: string;
  merchant_id: string;
  source_id: string;
  payment_id: string | null;
  kind: OperationKind;
  amount: string | null;
  currency: string;
  psp_idempotency_key: string;
  request: Record<string, unknown>;
  status: OperationStatus;
  psp_reference: string | null;
  operation_reference: string | null;
  failure_code: string | null;
  failure_message: string | null;
  sync_attempts: number;
  created_at: Date;
  updated_at: Date;
}

const toOp = (r: DbRow): PspOperation => ({
  id: r.id,
  merchantId: r.merchant_id,
  sourceId: r.source_id,
  paymentId: r.payment_id,
  kind: r.kind,
  amount: r.amount === null ? null : new Decimal(r.amount),
  currency: r.currency,
  pspIdempotencyKey: r.psp_idempotency_key,
  request: r.request,
  status: r.status,
  pspReference: r.psp_reference,
  operationReference: r.operation_reference,
  failureCode: r.failure_code,
  failureMessage: r.failure_message,
  syncAttempts: r.sync_attempts,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** A new operation id: `pop_` + the time-sortable body of {@link newId}. */
export function newOperationId(now: Date): string {
  return `pop_${newId('req', now).slice('req_'.length)}`;
}

/** Inserts an operation in status `requested`. */
export async function insertOperation(
  tx: Tx,
  input: Pick<
    PspOperation,
    'merchantId' | 'sourceId' | 'paymentId' | 'kind' | 'amount' | 'currency' | 'pspIdempotencyKey' | 'pspReference' | 'request'
  > & { now: Date; id?: string },
): Promise<PspOperation> {
  const [row] = await tx<DbRow[]>`
    insert into gw.psp_operations (id, merchant_id, source_id, payment_id, kind, amount, currency, psp_idempotency_key,
                                   psp_reference, request, created_at, updated_at)
    values (${input.id ?? newOperationId(input.now)}, ${input.merchantId}, ${input.sourceId}, ${input.paymentId}, ${input.kind},
            ${input.amount === null ? null : toMinorText(input.amount)}, ${input.currency}, ${input.pspIdempotencyKey},
            ${input.pspReference}, ${tx.json(input.request as postgres.JSONValue)}, ${input.now}, ${input.now})
    returning *`;
  return toOp(row!);
}

/** One operation, optionally locked `for update`. */
export async function getOperation(tx: Tx, id: string, forUpdate = false): Promise<PspOperation | undefined> {
  const [row] = forUpdate
    ? await tx<DbRow[]>`select * from gw.psp_operations where id = ${id} for update`
    : await tx<DbRow[]>`select * from gw.psp_operations where id = ${id}`;
  return row && toOp(row);
}

/** Records what the PSP answered (or that it did not): status, references, failure, payment. */
export async function updateOperation(
  tx: Tx,
  id: string,
  change: {
    status: OperationStatus;
    paymentId?: string | null;
    pspReference?: string | null;
    operationReference?: string | null;
    failure?: { code: string; message: string } | null;
    syncAttempted?: boolean;
    now: Date;
  },
): Promise<void> {
  await tx`
    update gw.psp_operations
       set status = ${change.status},
           payment_id = coalesce(${change.paymentId ?? null}, payment_id),
           psp_reference = coalesce(${change.pspReference ?? null}, psp_reference),
           operation_reference = coalesce(${change.operationReference ?? null}, operation_reference),
           failure_code = coalesce(${change.failure?.code ?? null}, failure_code),
           failure_message = coalesce(${change.failure?.message ?? null}, failure_message),
           sync_attempts = sync_attempts + ${change.syncAttempted ? 1 : 0},
           updated_at = ${change.now}
     where id = ${id}`;
}

/**
 * For webhooks naming the operation that created their payment: sets the operation's unknown `psp_reference` and renames
 * the payment's `pending:<operation id>` to `pspReference` (same source, unless taken), so the report lands on it, not on
 * a second payment (which the 0011 trigger would refuse). One statement, none when `claims` is empty.
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

/** A PSP's final word on one of its operations: the operation's own PSP reference and its outcome. */
export type OperationSettlement = { sourceId: string; reference: string; outcome: 'succeeded' | 'failed' };

/**
 * Settles API operations the PSP settles by webhook (status `submitted`, or `pending` after a timeout): a capture, void
 * or refund of the source whose `operation_reference` is a settlement's `reference` takes its outcome.
 */
export async function settleOperationsByWebhook(tx: Tx, settlements: readonly OperationSettlement[]): Promise<void> {
  if (settlements.length === 0) return;
  await tx`
    update gw.psp_operations o set status = x.outcome, updated_at = now()
      from json_to_recordset(${tx.json(settlements as OperationSettlement[])}::json)
             as x("sourceId" text, reference text, outcome text)
     where o.source_id = x."sourceId" and o.operation_reference = x.reference
       and o.kind in ('capture', 'void', 'refund') and o.status in ('submitted', 'pending')`;
}

/** Sum of a payment's succeeded refunds, minor units: cumulative, so as a `refundedTotal` it never counts a refund twice. */
export async function succeededRefundTotal(tx: Tx, paymentId: string): Promise<Decimal> {
  const [row] = await tx<{ total: string }[]>`
    select coalesce(sum(amount), 0)::text as total
      from gw.psp_operations
     where payment_id = ${paymentId} and kind = 'refund' and status = 'succeeded'`;
  return new Decimal(row!.total);
}

/**
 * Sum of a payment's refunds of unknown outcome (`requested`, `pending`), minor units, held back from what may be refunded.
 * Not `submitted` ones: their webhook puts them in refundedAmount (no double hold); until then the PSP refuses an over-refund.
 */
export async function inFlightRefundTotal(tx: Tx, paymentId: string): Promise<Decimal> {
  const [row] = await tx<{ total: string }[]>`
    select coalesce(sum(amount), 0)::text as total
      from gw.psp_operations
     where payment_id = ${paymentId} and kind = 'refund' and status in ('requested', 'pending')`;
  return new Decimal(row!.total);
}

/** Ids of unresolved operations untouched for `syncAfterSeconds` × 2^min(syncAttempts, 6) as of `now`, oldest first, ≤ `limit`. */
export async function listStaleOperations(tx: Tx, now: Date, syncAfterSeconds: number, limit = 500): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    select id from gw.psp_operations
     where status in ('requested', 'pending')
       and updated_at + make_interval(secs => ${syncAfterSeconds}::double precision * power(2, least(sync_attempts, 6))) < ${now}
     order by updated_at
     limit ${limit}`;
  return rows.map((r) => r.id);
}
