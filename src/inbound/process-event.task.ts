// Applies one stored inbound event: payment state machine → audit rows → ledger →
// merchant-facing events and their deliveries → inbound event processed, in ONE
// transaction, so a crash anywhere replays the whole step and the unique keys make the
// replay a no-op.
import type { Deps } from '../core/deps.js';
import { applyPaymentReports, type BatchItem } from '../core/payments/apply-event.js';
import { describeFailure, sqlState } from '../core/db/errors.js';
import { markInboundEventFailed } from './inbound-event-store.js';
import { normalizeInbound } from './normalize/index.js';
import { claimPendingReferences, settleOperationsByWebhook } from '../core/payments/operations.js';

/** What processing did with an inbound event. */
export type ProcessOutcome =
  | { result: 'applied'; paymentId: string; steps: number; postings: number; events: number }
  | { result: 'stale'; paymentId: string }
  | { result: 'ignored' | 'failed'; reason: string }
  | { result: 'already_processed' };

/**
 * The `process_inbound_event` task. Locks the inbound event row; unless it was already
 * handled, normalizes its stored bytes and applies the result to its payment with
 * `applyPaymentReport` (state machine, operation reports, transitions, merchant-facing
 * events, ledger), and marks the inbound event `processed` (with `stale = true` when it
 * changed nothing: a duplicate, or one that arrived after its successors), `ignored` for a
 * type we do not map, or `failed` with a reason for a body we cannot read, an amount beyond
 * Number.MAX_SAFE_INTEGER minor units or a currency other than the payment's. Throws only
 * on infrastructure errors, so graphile-worker retries the job.
 *
 * The transaction commits with `synchronous_commit = off` unless `options.synchronousCommit`
 * (on this 2-core machine a WAL flush is ~4 ms, the single biggest cost of an event). That
 * loses nothing: the inbound event was stored durably before the PSP was acked, and
 * graphile-worker marks the job done in a later, synchronous commit, whose WAL flush covers
 * this one; if the server crashes before that, the job runs again and finds the event still
 * `received` (or already applied). The one visible effect: a delivery of an emitted event may
 * leave in the ~0.6 s before a crash that then loses it, and the replay emits it again under a
 * new event id. Callers that run the task outside graphile-worker and need the commit durable
 * on return pass `synchronousCommit: true`.
 *
 * `options.batchSize` above 1 (e.g. 50) lets the job also take up to that many − 1 other
 * `received` events of the same merchant, oldest first, that no other worker holds (`skip
 * locked`), and process them all in one transaction ({@link processInboundEvents}); their own
 * jobs then find them `already_processed`. The job's payload stays `{inboundEventId}`; the
 * answer is about that event. If the batch fails, the job's own event is processed alone
 * ({@link processAlone}).
 */
export async function processInboundEvent(
  deps: Deps,
  job: { inboundEventId: string },
  options: { synchronousCommit?: boolean; batchSize?: number } = {},
): Promise<ProcessOutcome> {
  const extra = Math.max(0, Math.floor(options.batchSize ?? 1) - 1);
  try {
    const [outcome] = await processBatch(deps, [job.inboundEventId], options, extra);
    return outcome!;
  } catch (error) {
    if (extra === 0) throw error;
    deps.logger.warn({ reason: describeFailure(error), events: extra + 1 }, 'batch of inbound events failed; processing this one alone');
    return processAlone(deps, job.inboundEventId, options);
  }
}

/**
 * Processes one inbound event in its own transaction. When PostgreSQL refuses the event's
 * own data (SQLSTATE class 22, data exception: text it cannot store, a value out of range),
 * which would fail every retry the same way, the event is marked `failed` with the
 * database's reason instead and `failed` is returned; any other error is thrown, so the job
 * is retried.
 */
async function processAlone(deps: Deps, id: string, options: { synchronousCommit?: boolean }): Promise<ProcessOutcome> {
  try {
    const [outcome] = await processBatch(deps, [id], options, 0);
    return outcome!;
  } catch (error) {
    if (sqlState(error)?.slice(0, 2) !== '22') throw error;
    const reason = `PostgreSQL refused the event's data: ${describeFailure(error)}`;
    await markInboundEventFailed(deps.sql, id, reason, deps.clock());
    deps.logger.warn({ inboundEventId: id, reason }, 'inbound event failed');
    return { result: 'failed', reason };
  }
}


/**
 * Processes many stored inbound events in ONE transaction, with the effects of
 * {@link processInboundEvent} on each (same outcomes, same rows), in a handful of round trips
 * instead of ~10 per event: the inbound rows are locked together in id order (waiting for a
 * worker that holds one; two batches cannot deadlock), payments once each in a fixed order,
 * saves and events pipelined, inbound rows marked in one statement, postings in one call
 * ({@link applyPaymentReports}). Returns one outcome per id, in order.
 *
 * This is the `process_inbound_event` task for a job of one ingest batch
 * (`{"inboundEventIds"}`, queued by storeInboundEvents). If the batch fails on a database
 * error it is retried one event at a time, each in its own transaction, so one poison event
 * cannot hold back the others: every other event is processed, an event whose own data
 * PostgreSQL refuses is marked `failed` ({@link processAlone}), then the first other error is
 * thrown (graphile-worker retries the job, which finds the processed ones
 * `already_processed`).
 */
export async function processInboundEvents(
  deps: Deps,
  ids: string[],
  options: { synchronousCommit?: boolean } = {},
): Promise<ProcessOutcome[]> {
  try {
    return await processBatch(deps, ids, options, 0);
  } catch (error) {
    if (ids.length <= 1) throw error;
    deps.logger.warn({ reason: describeFailure(error), events: ids.length }, 'batch of inbound events failed; processing them one at a time');
    const outcomes: ProcessOutcome[] = [];
    let firstError: unknown;
    for (const id of ids) {
      try {
        outcomes.push(await processAlone(deps, id, options));
      } catch (e) {
        firstError ??= e;
        deps.logger.error({ err: e, inboundEventId: id }, 'inbound event failed; its job will be retried');
      }
    }
    if (firstError !== undefined) throw firstError;
    return outcomes;
  }
}

/** Locks `ids` (and up to `extra` other received events of the same merchant that nobody holds), processes the received ones. */
async function processBatch(
  deps: Deps,
  ids: string[],
  options: { synchronousCommit?: boolean },
  extra: number,
): Promise<ProcessOutcome[]> {
  const { sql, clock } = deps;
  return sql.begin(async (tx) => {
    // Asynchronous commit (see processInboundEvent): set in the first statement, no extra round trip.
    const rows = await tx<{ id: string; status: string; raw_body: Uint8Array; merchant_id: string; source_id: string; provider: string }[]>`
      select i.id, i.status, i.raw_body, i.merchant_id, i.source_id, s.provider,
             set_config('synchronous_commit', ${options.synchronousCommit ? 'on' : 'off'}, true) as synchronous_commit
        from gw.inbound_events i
        join gw.sources s on s.id = i.source_id
       where i.id = any(${ids}::text[])
       order by i.id
         for update of i`;
    const received = rows.filter((r) => r.status === 'received');
    if (extra > 0 && received.length > 0) {
      const more = await tx<typeof rows>`
        select i.id, i.status, i.raw_body, i.merchant_id, i.source_id, s.provider
          from gw.inbound_events i
          join gw.sources s on s.id = i.source_id
         where i.merchant_id = ${received[0]!.merchant_id}
           and i.status = 'received'
           and i.id <> all(${ids}::text[])
         order by i.id
         limit ${extra}
           for update of i skip locked`;
      received.push(...more);
    }
    const now = clock();
    const byId = new Map(received.map((r) => [r.id, r]));
    const outcomes = new Map<string, ProcessOutcome>();
    const marks: { id: string; status: 'processed' | 'ignored' | 'failed'; paymentId: string | null; error: string | null; stale: boolean }[] = [];
    const items: BatchItem[] = [];
    for (const iev of byId.values()) {
      const normalized = normalizeInbound(iev.provider, iev.raw_body);
      if (normalized.kind !== 'event') {
        const result = normalized.kind === 'ignored' ? 'ignored' : 'failed';
        marks.push({ id: iev.id, status: result, paymentId: null, error: normalized.reason, stale: false });
        outcomes.set(iev.id, { result, reason: normalized.reason });
        continue;
      }
      items.push({ merchantId: iev.merchant_id, sourceId: iev.source_id, report: normalized.event, cause: iev.id });
    }
    const mark = async (): Promise<void> => {
      if (marks.length === 0) return;
      await tx`
        update gw.inbound_events i
           set status = x.status, payment_id = x."paymentId", error = x.error, processed_at = ${now}, stale = x.stale
          from json_to_recordset(${tx.json(marks)}::json) as x(id text, status text, "paymentId" text, error text, stale boolean)
         where i.id = x.id`;
    };
    // Payments the API created whose reference is still provisional: linked first.
    await claimPendingReferences(
      tx,
      items.flatMap((i) => (i.report.operationId ? [{ sourceId: i.sourceId, operationId: i.report.operationId, pspReference: i.report.pspReference }] : [])),
    );
    await applyPaymentReports(tx, items, now, async (results) => {
      const settled: Parameters<typeof settleOperationsByWebhook>[1][number][] = [];
      results.forEach((r, n) => {
        const id = items[n]!.cause;
        if (r.result === 'currency_mismatch') {
          marks.push({ id, status: 'failed', paymentId: r.payment.id, error: r.reason, stale: false });
          outcomes.set(id, { result: 'failed', reason: r.reason });
          return;
        }
        const op = items[n]!.report.operation;
        if (op && (op.outcome === 'succeeded' || op.outcome === 'failed')) {
          settled.push({ sourceId: items[n]!.sourceId, reference: op.reference, outcome: op.outcome });
        }
        marks.push({ id, status: 'processed', paymentId: r.payment.id, error: null, stale: r.result === 'stale' });
        outcomes.set(
          id,
          r.result === 'stale'
            ? { result: 'stale', paymentId: r.payment.id }
            : { result: 'applied', paymentId: r.payment.id, steps: r.outcome.steps.length, postings: r.outcome.postings.length, events: r.events },
        );
      });
      await mark();
      await settleOperationsByWebhook(tx, settled);
    });
    return ids.map((id) => outcomes.get(id) ?? ({ result: 'already_processed' } as const));
  });
}
