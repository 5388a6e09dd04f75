// (node) The `reconcile_settlement_report` job: match a loaded report in chunks, post settlements, tell the merchant.
import type { Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import { emitEvents, type EventToEmit } from '../core/events/outbox.js';
import { loadSpooledReport } from './load-report.js';
import {
  addMissingInReport,
  analyzeItems,
  claimSettlements,
  completeRun,
  deleteSpool,
  failRun,
  getRun,
  getSourceForReconciliation,
  isSpooled,
  listNoticeItems,
  matchItems,
  nextChunk,
  postSettlements,
  setProgress,
  type ItemRow,
} from './reconciliation-store.js';
import { itemView, runView } from './reconciliation-view.js';

/** Lines matched and posted per transaction: bounds a transaction's size and locks, and paces the progress the CLI shows. */
export const CHUNK_LINES = 2_000;

/** The `reconciliation.mismatch` event of an item; a `missingInReport` one is named once per source and operation. */
function mismatchEvent(run: { id: string; merchantId: string; sourceId: string }, item: ItemRow, at: Date): EventToEmit {
  const dedupeKey =
    item.result === 'missingInReport'
      ? `reconciliation.mismatch:missingInReport:${run.sourceId}:${item.payment_id}:${item.category}:${item.operation_ref ?? ''}`
      : `reconciliation.mismatch:${run.id}:${item.position}`;
  return {
    merchantId: run.merchantId,
    type: 'reconciliation.mismatch',
    paymentId: item.payment_id,
    dedupeKey,
    data: { reconciliationId: run.id, sourceId: run.sourceId, ...itemView(item) },
    at,
  };
}

/**
 * Reconciles a run: first its spooled report is read into items (load-report.ts `loadSpooledReport`, one transaction
 * that also drops the spool; a report that cannot be read fails the run, naming why), then per chunk of {@link CHUNK_LINES} lines, one transaction matches them
 * (reconciliation-store.ts `matchItems`), claims and posts the settlements and emits one `reconciliation.mismatch` per
 * item that is not `matched` or `ignored`; it resumes after the last committed chunk. Then `missingInReport` items
 * (captures and refunds older than the source's settlement delay and than the report's last line, not settled by any
 * report), the counts, and `reconciliation.completed`. A run not `processing` is left as it is. `options.phases`, when
 * given, is filled with the wall-clock milliseconds of each phase ({@link PhaseTimes}; bench:recon prints them).
 */
export async function reconcileRun(
  deps: Pick<Deps, 'sql' | 'clock'>,
  runId: string,
  options: { chunkLines?: number; phases?: PhaseTimes } = {},
): Promise<void> {
  const chunkLines = options.chunkLines ?? CHUNK_LINES;
  const timed = phaseTimer(options.phases);
  const row = await getRun(deps.sql, null, runId);
  if (row?.status !== 'processing') return;
  const source = await getSourceForReconciliation(deps.sql, row.merchant_id, row.source_id);
  if (!source) throw new Error(`source ${row.source_id} of ${runId} is gone`);
  const run = { id: row.id, merchantId: row.merchant_id, sourceId: row.source_id, provider: source.provider };
  if (await isSpooled(deps.sql, runId)) {
    try {
      await timed('load', () => loadSpooledReport(deps, run));
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      await deps.sql.begin(async (tx) => {
        await deleteSpool(tx, runId);
        await failRun(tx, runId, `The report could not be read: ${err.message}`, deps.clock());
      });
      return;
    }
  }
  await timed('analyze', () => analyzeItems(deps.sql));
  for (;;) {
    let inside = 0;
    const began = performance.now();
    const done = await deps.sql.begin(async (tx) => {
      const entered = performance.now();
      const current = await getRun(tx, null, runId);
      const chunk = await timed('chunk', () => nextChunk(tx, runId, current!.position_done, chunkLines));
      if (!chunk) return true;
      await timed('match', () => matchItems(tx, run, chunk.lo, chunk.hi));
      await timed('claim', () => claimSettlements(tx, run, chunk.lo, chunk.hi));
      await timed('post', () => postSettlements(tx, run, chunk.lo, chunk.hi));
      const at = deps.clock();
      const notices = await timed('notices', () => listNoticeItems(tx, runId, chunk.lo, chunk.hi));
      await timed('events', () =>
        emitEvents(
          tx,
          notices.map((item) => mismatchEvent(run, item, at)),
        ),
      );
      await setProgress(tx, runId, chunk.hi, chunk.lines);
      inside = performance.now() - entered;
      return false;
    });
    // begin and commit, where the deferred ledger checks run
    if (options.phases && !done) options.phases.commit = (options.phases.commit ?? 0) + performance.now() - began - inside;
    if (done) break;
  }
  const finishing = performance.now();
  await deps.sql.begin(async (tx) => {
    const current = (await getRun(tx, null, runId))!;
    if (current.status !== 'processing') return;
    const now = deps.clock();
    const delayed = new Date(now.getTime() - source.settlementDelaySeconds * 1000);
    // report times are whole seconds: what was recorded within the last line's second is not after it
    const lastLine = current.period_end && new Date(Math.floor(current.period_end.getTime() / 1000) * 1000 + 1000);
    const before = lastLine && lastLine < delayed ? lastLine : delayed;
    const after = current.position_done;
    const added = await timed('missingInReport', () => addMissingInReport(tx, run, after, before));
    const notices = added > 0 ? await listNoticeItems(tx, runId, after + 1, after + added) : [];
    await emitEvents(
      tx,
      notices.map((item) => mismatchEvent(run, item, now)),
    );
    const completed = await timed('counts', () => completeRun(tx, runId, now));
    await emitEvents(tx, [
      {
        merchantId: run.merchantId,
        type: 'reconciliation.completed',
        paymentId: null,
        dedupeKey: `reconciliation.completed:${runId}`,
        data: runView(completed),
        at: now,
      },
    ]);
  });
  if (options.phases) options.phases.finish = performance.now() - finishing;
}

/** Milliseconds spent per phase of {@link reconcileRun}, summed over its chunks (for bench:recon's breakdown). */
export type PhaseTimes = Record<string, number>;

/** Runs `fn`, adding its wall time (ms) to `phases[name]` when phases are asked for. */
function phaseTimer(phases: PhaseTimes | undefined): <T>(name: string, fn: () => Promise<T>) => Promise<T> {
  return async (name, fn) => {
    if (!phases) return fn();
    const t = performance.now();
    try {
      return await fn();
    } finally {
      phases[name] = (phases[name] ?? 0) + performance.now() - t;
    }
  };
}

/** Marks a run whose job has failed for the last time as `failed`, with a reason the merchant may read. */
export async function giveUpRun(deps: Pick<Deps, 'sql' | 'clock'>, runId: string): Promise<void> {
  await deps.sql.begin(async (tx) => {
    await deleteSpool(tx, runId);
    await failRun(tx, runId, 'Reconciliation failed after several attempts; the server logs name the cause.', deps.clock());
  });
}
