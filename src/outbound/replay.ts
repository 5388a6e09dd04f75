// Bulk replays: one more attempt of every message a filter selects, queued page by page by `replay_messages` jobs.
import type { Tx } from '../core/db/client.js';
import type { Deps } from '../core/deps.js';
import { enqueueDeliveries, enqueueReplayPage } from '../core/jobs/enqueue.js';
import {
  cancelRunningReplay,
  countReplayMessages,
  insertReplay,
  lockReplay,
  lockReplayPage,
  recordReplayPage,
  reopenMessages,
  type Replay,
  type ReplayCandidate,
  type ReplayFilter,
} from './replay-store.js';

/** Messages a page queues at most, by default. */
export const DEFAULT_REPLAY_PAGE_SIZE = 200;

/**
 * Starts a replay of what `filter` selects (docs/http-api.md "Replays"): counts the messages, inserts the replay
 * (`running`) and queues its first page, in the caller's transaction.
 */
export async function startReplay(tx: Tx, filter: ReplayFilter, now: Date, pageSize = DEFAULT_REPLAY_PAGE_SIZE): Promise<Replay> {
  const total = await countReplayMessages(tx, filter);
  const replay = await insertReplay(tx, { ...filter, total, pageSize, now });
  await enqueueReplayPage(tx, replay.id, 0);
  return replay;
}

/**
 * Whether a replay may queue an attempt of `m` now: a failed message always; a pending one only while its next attempt
 * is scheduled for later (a retry waiting). A pending message whose attempt is due or in flight (its first attempt,
 * one a replay or a redelivery queued, one put off to now) is skipped, so no message has two attempts pending at once.
 */
function replayable(m: ReplayCandidate, now: Date): boolean {
  if (m.status === 'failed') return true;
  return m.nextAttemptAt !== null && m.nextAttemptAt > now;
}

/**
 * Runs page `page` of replay `replayId` (the `replay_messages` task), in one transaction: the replay row and the page's
 * messages are locked, the replayable ones made pending and their attempt `attempts + 1` queued now, keyed
 * `deliver:<messageId>:<attempt>` (a pending message's waiting retry job has that key: it is moved to now, not
 * doubled), the cursor and counts move, and the next page is queued, or the replay completes. A page that is not the
 * replay's next (run again after a crash that followed its commit) or a replay no longer running does nothing.
 * Throws only on database errors (graphile-worker retries the job; nothing of the page was committed).
 */
export async function runReplayPage(deps: Deps, job: { replayId: string; page: number }): Promise<void> {
  await deps.sql.begin(async (tx) => {
    const replay = await lockReplay(tx, null, job.replayId);
    if (replay?.status !== 'running' || replay.pagesDone !== job.page) return;
    const now = deps.clock();
    const page = await lockReplayPage(tx, replay);
    const queue = page.filter((m) => replayable(m, now));
    await reopenMessages(
      tx,
      queue.map((m) => m.id),
      now,
    );
    await enqueueDeliveries(
      tx,
      queue.map((m) => ({ messageId: m.id, attempt: m.attempts + 1 })),
    );
    const finished = page.length < replay.pageSize;
    await recordReplayPage(tx, {
      id: replay.id,
      cursor: page.at(-1)?.id ?? null,
      queued: queue.length,
      skipped: page.length - queue.length,
      finished,
      now,
    });
    if (!finished) await enqueueReplayPage(tx, replay.id, job.page + 1);
  });
}

/**
 * Cancels one of the merchant's replays (any merchant's with `merchantId` null): no page after the one running is
 * queued; attempts already queued stay. The replay as it now is (unchanged when it had finished), or undefined.
 */
export async function cancelReplay(tx: Tx, merchantId: string | null, id: string, now: Date): Promise<Replay | undefined> {
  const replay = await lockReplay(tx, merchantId, id);
  if (!replay) return undefined;
  return (await cancelRunningReplay(tx, id, now)) ?? replay;
}
