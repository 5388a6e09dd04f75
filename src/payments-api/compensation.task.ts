// (node) The `retry_review_compensation` task: a rejected review's refund or void that the PSP refused is sent again
// as a new operation (a new PSP idempotency key: the refused one is final), with backoff, a bounded number of times.
import { Decimal } from 'decimal.js';
import type { Deps } from '../core/deps.js';
import { toJsonAmount } from '../core/money.js';
import { getOperation, inFlightRefundTotal, insertOperation, newOperationId } from '../core/payments/operation-store.js';
import { lockPayment } from '../core/payments/payment-store.js';
import { compensationAttemptOperation, getReview, hasLiveCompensation } from '../core/risk/review-store.js';
import { callPsp } from './call-psp.js';
import type { PaymentCommandOptions } from './commands.js';
import { loadSourceCredentials } from './connectors/credentials.js';
import { settleOperation } from './settle-operation.js';

/** What one retry did. */
type RetryOutcome = 'sent' | 'nothing_to_do';

/**
 * Sends a rejected review's compensation again: a refund of what is still refundable of a captured payment, or a void of
 * an authorized one, through the source's connector as the rejection did. Nothing when a compensation is already in
 * flight or done, or nothing is left to refund. A refusal schedules the next attempt (settleOperation). Idempotent per
 * `job.attempt`: a redelivered job finds the operation its first run made (by its PSP idempotency key) and sends that
 * one again, with the same key, while it is still `requested` (the first run stopped before the PSP answered); once
 * the PSP answered, there is nothing to do. Throws only database errors.
 */
export async function retryReviewCompensation(
  deps: Deps,
  job: { merchantId: string; reviewId: string; attempt: number },
  options: PaymentCommandOptions = {},
): Promise<RetryOutcome> {
  const now = deps.clock();
  const opId = await deps.sql.begin(async (tx) => {
    const review = await getReview(tx, job.merchantId, job.reviewId);
    if (review?.status !== 'rejected' || !review.paymentId) return null;
    if (review.compensation !== 'refund' && review.compensation !== 'void') return null;
    const payment = await lockPayment(tx, job.merchantId, review.paymentId);
    if (!payment) return null;
    const pspIdempotencyKey = `review-compensation:${review.id}:${job.attempt}`;
    const earlier = await compensationAttemptOperation(tx, payment.sourceId, pspIdempotencyKey);
    if (earlier) return earlier.status === 'requested' ? earlier.id : null;
    if (await hasLiveCompensation(tx, payment.id, review.id)) return null;
    let amount: Decimal | null = null;
    if (review.compensation === 'refund') {
      amount = payment.capturedAmount.minus(payment.refundedAmount).minus(await inFlightRefundTotal(tx, payment.id));
      if (amount.lessThanOrEqualTo(0)) return null;
    } else if (payment.status !== 'authorized' || !payment.capturedAmount.equals(new Decimal(0))) {
      return null;
    }
    const creds = await loadSourceCredentials(tx, deps.secretBox, job.merchantId, payment.sourceId);
    if (!creds.ok) return null;
    const op = await insertOperation(tx, {
      id: newOperationId(now),
      merchantId: job.merchantId,
      sourceId: payment.sourceId,
      paymentId: payment.id,
      kind: review.compensation,
      amount,
      currency: payment.currency,
      pspIdempotencyKey,
      pspReference: payment.pspReference,
      request: {
        paymentId: payment.id,
        reviewId: review.id,
        compensationAttempt: job.attempt,
        ...(amount ? { amount: toJsonAmount(amount) } : {}),
      },
      now,
    });
    return op.id;
  });
  if (!opId) return 'nothing_to_do';
  const op = (await getOperation(deps.sql, opId))!;
  const result = await callPsp(deps, op, options);
  deps.logger.info(
    { operationId: op.id, reviewId: job.reviewId, attempt: job.attempt, result: result.kind },
    'review compensation retried',
  );
  await deps.sql.begin(async (tx) => {
    const locked = await getOperation(tx, opId, true);
    if (locked && (locked.status === 'requested' || locked.status === 'pending')) await settleOperation(deps, tx, locked, result, options);
  });
  return 'sent';
}
