import type { Deps } from '../../core/deps.js';
import { deleteExpiredKeys } from './idempotency-store.js';

/**
 * The `purge_idempotency_keys` task: deletes the keys expired by `deps.clock()`, `batch`
 * rows per statement; returns how many. Only keeps the table small: claims ignore expired keys.
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
