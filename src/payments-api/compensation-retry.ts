// When a rejected review's refused refund or void is sent again (the `retry_review_compensation` task,
// compensation.task.ts): backoff and the number of attempts.
import type { Deps } from '../core/deps.js';
import type { Tx } from '../core/db/client.js';
import { emitOperatorEvent } from '../core/events/operator-event-store.js';
import { enqueueCompensationRetry } from '../core/jobs/enqueue.js';
import { markCompensationFailed, reviewView } from '../core/risk/review-store.js';

/** Attempts after the first refused compensation: at 1, 2, 4, … 32 minutes (about an hour in all). */
export const MAX_COMPENSATION_RETRIES = 6;

/** When attempt `attempt` (1-based) of a refused compensation runs, after `now`. */
export function compensationRetryAt(now: Date, attempt: number): Date {
  return new Date(now.getTime() + 60_000 * 2 ** (attempt - 1));
}

/**
 * After a compensating operation of review `reviewId` (its `request.reviewId`) was refused: queues the next attempt,
 * unless {@link MAX_COMPENSATION_RETRIES} are spent. Then the operation stays `failed`, the review records
 * `compensationFailedAt`, and the operator hears of it once as a `review.compensation_failed` operational webhook
 * (`data`: the review), as of a ledger imbalance.
 */
export async function scheduleCompensationRetry(
  deps: Deps,
  tx: Tx,
  op: { merchantId: string; request: Record<string, unknown> },
): Promise<void> {
  const reviewId = op.request.reviewId;
  if (typeof reviewId !== 'string') return;
  const attempt = (typeof op.request.compensationAttempt === 'number' ? op.request.compensationAttempt : 0) + 1;
  if (attempt > MAX_COMPENSATION_RETRIES) {
    deps.logger.warn({ reviewId, attempts: attempt - 1 }, 'review compensation refused by the PSP; retries spent');
    const now = deps.clock();
    const review = await markCompensationFailed(tx, op.merchantId, reviewId, now);
    if (review) {
      await emitOperatorEvent(tx, deps.config, {
        type: 'review.compensation_failed',
        merchantId: op.merchantId,
        dedupeKey: `review.compensation_failed:${reviewId}`,
        data: { review: reviewView(review), attempts: attempt - 1 },
        at: now,
      });
    }
    return;
  }
  await enqueueCompensationRetry(tx, { merchantId: op.merchantId, reviewId, attempt }, compensationRetryAt(deps.clock(), attempt));
}
