import type { Deps } from '../../core/deps.js';
import { deleteExpiredKeys } from './idempotency-store.js';

/**
 * The `purge_idempotency_keys` task: deletes every idempotency key that expired (24 h after
 * its first request) by `deps.clock()`, in batches of `batch` rows, and returns how many.
 * Run by graphile-worker's cron every 10 minutes (`paymentsApiCronItems`). A key found
 * expired before the purge reaches it is treated as absent by the claim, so the purge only
 * keeps the table small.
 */
export async function purgeIdempotencyKeys(deps: Deps, batch = 1000): Promise<number> {
  const now = deps.clock();
  let total = 0;
  for (;;) {
    const n = await deleteExpiredKeys(deps.sql, now, batch);
    total += n;
    if (n < batch) return total;
  }
}
