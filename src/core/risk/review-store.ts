// The review queue (gw.reviews; sql/0051_risk_reviews.sql).
import type { z } from 'zod';
import type { Tx } from '../db/client.js';
import type { ReviewData } from '../events/event-data.js';
import { newId } from '../ids.js';
import type { RuleRef } from './risk-store.js';

/** A review's status: open until a reviewer approves or rejects it, once. */
export type ReviewStatus = 'open' | 'approved' | 'rejected';

/** A review; `paymentId` is null while the payment of an API create operation (`operationId`) is not stored yet. */
export interface Review {
  id: string;
  merchantId: string;
  paymentId: string | null;
  operationId: string | null;
  openedBy: RuleRef;
  status: ReviewStatus;
  reason: string | null;
  compensation: Compensation | null;
  compensationOperationId: string | null;
  /** When the rejection's refund or void was refused by the PSP past its last retry: a person must act. */
  compensationFailedAt: Date | null;
  openedAt: Date;
  closedAt: Date | null;
}

/** What rejecting a review did to its payment (sql/0051_risk_reviews.sql). */
export type Compensation = 'refund' | 'void' | 'none' | 'refund_required';

interface ReviewRow {
  id: string;
  merchant_id: string;
  payment_id: string | null;
  operation_id: string | null;
  opened_by: RuleRef;
  status: ReviewStatus;
  reason: string | null;
  compensation: Compensation | null;
  compensation_operation_id: string | null;
  compensation_failed_at: Date | null;
  opened_at: Date;
  closed_at: Date | null;
}

const toReview = (r: ReviewRow): Review => ({
  id: r.id,
  merchantId: r.merchant_id,
  paymentId: r.payment_id,
  operationId: r.operation_id,
  openedBy: r.opened_by,
  status: r.status,
  reason: r.reason,
  compensation: r.compensation,
  compensationOperationId: r.compensation_operation_id,
  compensationFailedAt: r.compensation_failed_at,
  openedAt: r.opened_at,
  closedAt: r.closed_at,
});

// The payment of a review: its own, else the one its create operation made.
const COLUMNS = (tx: Tx) => tx`
  r.id, r.merchant_id, coalesce(r.payment_id, o.payment_id) as payment_id, r.operation_id, r.opened_by, r.status, r.reason,
  r.compensation, r.compensation_operation_id, r.compensation_failed_at, r.opened_at, r.closed_at`;

/** Opens one review per decision (one statement); returns them in input order. */
export async function openReviews(
  tx: Tx,
  rows: readonly {
    merchantId: string;
    paymentId: string | null;
    operationId: string | null;
    decisionId: string;
    openedBy: RuleRef;
    at: Date;
  }[],
): Promise<Review[]> {
  if (rows.length === 0) return [];
  const out = await tx<ReviewRow[]>`
    insert into gw.reviews (id, merchant_id, payment_id, operation_id, decision_id, opened_by, opened_at)
    select i, m, p, o, d, b::jsonb, t from unnest(
      ${rows.map((r) => newId('rev', r.at))}::text[], ${rows.map((r) => r.merchantId)}::text[], ${rows.map((r) => r.paymentId)}::text[],
      ${rows.map((r) => r.operationId)}::text[], ${rows.map((r) => r.decisionId)}::bigint[], ${rows.map((r) => JSON.stringify(r.openedBy))}::text[],
      ${rows.map((r) => r.at.toISOString())}::timestamptz[]
    ) with ordinality as x (i, m, p, o, d, b, t, n)
    order by n
    returning *`;
  return out.map(toReview);
}

/** The merchant's review; `lock` takes it FOR UPDATE (one reviewer decides at a time). */
export async function getReview(tx: Tx, merchantId: string, id: string, lock = false): Promise<Review | undefined> {
  const [row] = await tx<ReviewRow[]>`
    select ${COLUMNS(tx)} from gw.reviews r left join gw.psp_operations o on o.id = r.operation_id
    where r.id = ${id} and r.merchant_id = ${merchantId} ${lock ? tx`for update of r` : tx``}`;
  return row && toReview(row);
}

/** The merchant's reviews, newest first, `limit + 1` rows after `startingAfter`, of one status or all. */
export async function listReviews(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string | undefined; status?: ReviewStatus | undefined; compensation?: Compensation | undefined },
): Promise<Review[]> {
  const rows = await tx<ReviewRow[]>`
    select ${COLUMNS(tx)} from gw.reviews r left join gw.psp_operations o on o.id = r.operation_id
    where r.merchant_id = ${merchantId}
      ${q.status ? tx`and r.status = ${q.status}` : tx``}
      ${q.compensation ? tx`and r.compensation = ${q.compensation}` : tx``}
      ${q.startingAfter ? tx`and r.id < ${q.startingAfter}` : tx``}
    order by r.id desc limit ${q.limit + 1}`;
  return rows.map(toReview);
}

/** Closes an open review, returning it (the trigger refuses a second decision). */
export async function closeReview(
  tx: Tx,
  review: Review,
  close: {
    status: 'approved' | 'rejected';
    reason: string | null;
    compensation: Compensation | null;
    compensationOperationId: string | null;
    now: Date;
  },
): Promise<Review> {
  await tx`
    update gw.reviews set status = ${close.status}, reason = ${close.reason}, compensation = ${close.compensation},
      compensation_operation_id = ${close.compensationOperationId}, closed_at = ${close.now}
    where id = ${review.id}`;
  return {
    ...review,
    status: close.status,
    reason: close.reason,
    compensation: close.compensation,
    compensationOperationId: close.compensationOperationId,
    closedAt: close.now,
  };
}

/**
 * Records that review `id`'s compensation was refused past its last retry (sql/0117 lets it be set once, on a rejected
 * review); returns the review, or undefined when it is not rejected or was already marked.
 */
export async function markCompensationFailed(tx: Tx, merchantId: string, id: string, now: Date): Promise<Review | undefined> {
  const [row] = await tx<ReviewRow[]>`
    update gw.reviews set compensation_failed_at = ${now}
    where id = ${id} and merchant_id = ${merchantId} and status = 'rejected' and compensation_failed_at is null
    returning *`;
  return row && toReview(row);
}

/** Whether a compensating refund or void of the review is in flight or done (requested, pending, submitted, succeeded). */
export async function hasLiveCompensation(tx: Tx, paymentId: string, reviewId: string): Promise<boolean> {
  const [row] = await tx<{ live: boolean }[]>`
    select exists (select 1 from gw.psp_operations
                    where payment_id = ${paymentId} and kind in ('refund', 'void') and request->>'reviewId' = ${reviewId}
                      and status in ('requested', 'pending', 'submitted', 'succeeded')) as live`;
  return row!.live;
}

/**
 * The operation a compensation attempt made, found by its PSP idempotency key on the payment's source (the key is
 * unique per source, sql/0011): its id and status, or undefined when that attempt has made none.
 */
export async function compensationAttemptOperation(
  tx: Tx,
  sourceId: string,
  pspIdempotencyKey: string,
): Promise<{ id: string; status: string } | undefined> {
  const [row] = await tx<{ id: string; status: string }[]>`
    select id, status from gw.psp_operations where source_id = ${sourceId} and psp_idempotency_key = ${pspIdempotencyKey}`;
  return row;
}

/**
 * Stores `paymentId` on the reviews opened on the API create operation `operationId`, now that the operation names
 * that payment (the trigger of sql/0117 checks it); returns the reviews it linked, oldest first (none on a second call).
 */
export async function linkOperationReviews(tx: Tx, operationId: string, paymentId: string): Promise<Review[]> {
  const rows = await tx<ReviewRow[]>`
    update gw.reviews set payment_id = ${paymentId}
    where operation_id = ${operationId} and payment_id is null
    returning *`;
  return rows.map(toReview).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The latest review of a payment (opened on it or on its create operation), or undefined. */
export async function latestReviewOf(tx: Tx, paymentId: string): Promise<Review | undefined> {
  const [row] = await tx<ReviewRow[]>`
    select ${COLUMNS(tx)} from gw.reviews r left join gw.psp_operations o on o.id = r.operation_id
    where r.payment_id = ${paymentId}
       or r.operation_id in (select id from gw.psp_operations where payment_id = ${paymentId} and kind = 'create')
    order by r.id desc limit 1`;
  return row && toReview(row);
}

/** A review as the API and `review.*` events show it (docs/http-api.md "Reviews"). */
export function reviewView(r: Review): z.infer<typeof ReviewData> {
  return {
    id: r.id,
    paymentId: r.paymentId,
    operationId: r.operationId,
    status: r.status,
    reason: r.reason,
    compensation: r.compensation,
    compensationOperationId: r.compensationOperationId,
    compensationFailedAt: r.compensationFailedAt?.toISOString() ?? null,
    openedBy: r.openedBy,
    openedAt: r.openedAt.toISOString(),
    closedAt: r.closedAt?.toISOString() ?? null,
  };
}
