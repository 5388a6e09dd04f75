// The `process_inbound_event` task: stored inbound events normalized, applied to their payments
// and marked in ONE transaction, so a crash replays the whole step and unique keys make it a no-op.
import type { Deps } from '../core/deps.js';
import type { FirstAttemptHandoff } from '../core/events/outbox.js';
import { preparePaymentReports, writePaymentReports, type ReportToApply } from '../core/payments/apply-event.js';
import { describeFailure, sqlState } from '../core/db/errors.js';
import { removeHandedJobs } from '../core/jobs/job-store.js';
import { enqueueInboundFetch, enqueueReportPull } from '../core/jobs/enqueue.js';
import type { JobPayload } from '../core/jobs/catalog.js';
import { planInboundAssessment, readInboundRiskAhead, riskRulesOf, writeAssessment, type InboundRiskReport } from '../core/risk/assess.js';
import { lockReceivedInboundEvents, markInboundEventFailed, markInboundEvents, type InboundEventMark } from './inbound-event-store.js';
import { normalizeInbound } from './normalize/index.js';
import { receivedEventsToFetch } from './psp-fetch-store.js';
import { normalizeWithState, readEventObjects, type FetchedState } from './verify-or-fetch.js';

/** What processing did with an inbound event. */
export type ProcessOutcome =
  | { result: 'applied'; paymentId: string; steps: number; postings: number; events: number }
  | { result: 'stale'; paymentId: string }
  | { result: 'ignored' | 'failed'; reason: string }
  /** A `trust: fetch` source's event: left `received` for a `fetch_inbound_objects` job due at `runAt` (README "Verify or fetch"). */
  | { result: 'deferred'; reason: string; runAt: Date }
  | { result: 'report_pull_queued' }
  | { result: 'already_processed' };

/** Options of {@link processInboundEvents}. */
interface ProcessOptions {
  /**
   * Commit durably. Default false (`synchronous_commit = off`): safe because the event was
   * stored durably before the ack and graphile-worker's later synchronous job-done commit
   * flushes this one; a crash in between reruns the job (a delivery may repeat under a new
   * event id). Pass true outside graphile-worker.
   */
  synchronousCommit?: boolean;
  /** Events per transaction, topped up with the merchant's other unheld `received` events (default 1). */
  batchSize?: number;
  /**
   * Hand the emitted events' first attempts to the caller (outbox.ts {@link FirstAttemptHandoff}); only committed
   * transactions' attempts are added to it. Default: queued as jobs due now.
   */
  handoff?: FirstAttemptHandoff;
  /**
   * Jobs of these events that the ack path committed locked by pool `poolId` and handed over
   * (core/jobs/processing-handoff.ts): deleted in the same transaction when all the events go
   * through together, and then `removed` is set; otherwise left to the caller.
   */
  handedJobs?: HandedJobs;
}

/** Jobs held locked by a pool and deleted by the transaction that does their work. */
interface HandedJobs {
  poolId: string;
  jobIds: string[];
  /** Out: the jobs were deleted by the committed transaction. */
  removed?: boolean;
}

/**
 * Processes stored inbound events in ONE transaction, marking each `processed` (`stale` when
 * it changed nothing), `ignored` (unmapped type) or `failed` (unreadable body, amount beyond
 * Number.MAX_SAFE_INTEGER minor units, currency other than the payment's). Returns one
 * outcome per id, in order; `already_processed` for an event no longer `received`; `deferred` for an
 * event of a `trust: fetch` source, handed to a `fetch_inbound_objects` job ({@link fetchInboundObjects}).
 *
 * If a multi-event transaction fails, each id is retried alone so one poison event cannot
 * hold back the others; then the first error is rethrown. Throws only database errors.
 */
export async function processInboundEvents(deps: Deps, ids: string[], options: ProcessOptions = {}): Promise<ProcessOutcome[]> {
  const more = Math.max(0, Math.floor(options.batchSize ?? 1) - ids.length);
  try {
    return await processTogether(deps, ids, options, more, options.handedJobs);
  } catch (error) {
    if (ids.length + more <= 1) throw error;
    deps.logger.warn(
      { reason: describeFailure(error), events: ids.length + more },
      'batch of inbound events failed; processing them one at a time',
    );
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

/** {@link processInboundEvents} of one event (`{"inboundEventId"}`); the runner's task groups jobs instead (src/app/worker.ts). */
export async function processInboundEvent(
  deps: Deps,
  job: { inboundEventId: string },
  options: ProcessOptions = {},
): Promise<ProcessOutcome> {
  const [outcome] = await processInboundEvents(deps, [job.inboundEventId], options);
  return outcome!;
}

/**
 * Verify or fetch (README "Verify or fetch"), the `fetch_inbound_objects` task: reads the PSP objects of these
 * events of `trust: fetch` sources with no transaction open (verify-or-fetch.ts), then applies them in one
 * transaction, which also queues this task again for those whose read must wait (budget used up, PSP not
 * answering). Returns one outcome per id, in order. As {@link processInboundEvents}, a failed transaction of
 * several events is retried one event at a time. Throws only database errors.
 */
export async function fetchInboundObjects(
  deps: Deps,
  job: { inboundEventIds: string[]; retries?: number | undefined },
  options: Pick<ProcessOptions, 'synchronousCommit'> = {},
): Promise<ProcessOutcome[]> {
  const ids = job.inboundEventIds;
  const retries = job.retries ?? 0;
  const states = await readEventObjects(deps, await receivedEventsToFetch(deps.sql, ids), retries);
  const ready = new Map<string, Exclude<FetchedState, { kind: 'later' }>>();
  const waiting = new Map<string, Extract<FetchedState, { kind: 'later' }>>();
  for (const [id, state] of states) {
    if (state.kind === 'later') waiting.set(id, state);
    else ready.set(id, state);
  }
  // One job for those that wait: it counts a retry when the PSP did not answer one of them (README "Verify or fetch").
  const later =
    waiting.size > 0
      ? {
          ids: [...waiting.keys()],
          runAt: new Date(Math.max(...[...waiting.values()].map((w) => w.runAt.getTime()))),
          retries: [...waiting.values()].some((w) => w.retry) ? retries + 1 : retries,
        }
      : undefined;
  const readyIds = ids.filter((id) => !waiting.has(id));
  const fetch = (): FetchStep => ({ states: ready, deferred: [], ...(later ? { later } : {}) });
  let outcomes: ProcessOutcome[] = [];
  try {
    if (readyIds.length > 0) outcomes = await processTogether(deps, readyIds, options, 0, undefined, fetch());
    else if (later) await enqueueInboundFetch(deps.sql, later.ids, later.runAt, later.retries);
  } catch (error) {
    if (readyIds.length <= 1) throw error;
    deps.logger.warn(
      { reason: describeFailure(error), events: readyIds.length },
      'fetched inbound events failed together; applying them one at a time',
    );
    if (later) await enqueueInboundFetch(deps.sql, later.ids, later.runAt, later.retries);
    outcomes = [];
    for (const id of readyIds) outcomes.push(await processAlone(deps, id, options, { states: ready, deferred: [] }));
  }
  const byId = new Map<string, ProcessOutcome>(readyIds.map((id, n) => [id, outcomes[n]!]));
  for (const [id, w] of waiting) byId.set(id, { result: 'deferred', reason: w.reason, runAt: w.runAt });
  return ids.map((id) => byId.get(id)!);
}

/** Verify or fetch: what one {@link processTogether} transaction does with the events of `trust: fetch` sources. */
interface FetchStep {
  /** Their PSP objects ({@link fetchInboundObjects}); such an event of `ids` without one is `deferred` to that task. */
  states?: ReadonlyMap<string, Exclude<FetchedState, { kind: 'later' }>>;
  /** Out: the events of `ids` handed to a `fetch_inbound_objects` job (other such events locked are left to their own jobs). */
  deferred: string[];
  /** Events whose read must wait: queued in this transaction for `fetch_inbound_objects` at `runAt`. */
  later?: { ids: string[]; runAt: Date; retries: number };
}

/** One event in its own transaction; data PostgreSQL refuses (SQLSTATE class 22) marks it `failed`. */
async function processAlone(deps: Deps, id: string, options: ProcessOptions, fetch?: FetchStep): Promise<ProcessOutcome> {
  try {
    const [outcome] = await processTogether(deps, [id], options, 0, undefined, fetch); // never the handed jobs: they may hold other events too
    return outcome!;
  } catch (error) {
    if (sqlState(error)?.slice(0, 2) !== '22') throw error;
    const reason = `PostgreSQL refused the event's data: ${describeFailure(error)}`;
    await markInboundEventFailed(deps.sql, id, reason, deps.clock());
    deps.logger.warn({ inboundEventId: id, reason }, 'inbound event failed');
    return { result: 'failed', reason };
  }
}

async function processTogether(
  deps: Deps,
  ids: string[],
  options: ProcessOptions,
  more: number,
  handed?: HandedJobs,
  fetch: FetchStep = { deferred: [] },
): Promise<ProcessOutcome[]> {
  // A transaction that rolls back must not hand over attempts it queued: collect them apart, keep them on commit.
  const handoff = options.handoff && { ...options.handoff, attempts: [], jobIds: [] };
  const outcomes = await deps.sql.begin(async (tx) => {
    const events = await lockReceivedInboundEvents(tx, ids, { more, synchronousCommit: options.synchronousCommit ?? false });
    const now = deps.clock();
    // the merchants' risk rules (one small read, cached by version), sent along with the reads below; awaited through
    // readInboundRiskAhead
    const rules = riskRulesOf(deps).load(tx, [...new Set(events.map((e) => e.merchantId))]);
    const outcomes = new Map<string, ProcessOutcome>();
    const marks: InboundEventMark[] = [];
    const items: (ReportToApply & { provider: string })[] = [];
    const pulls: JobPayload<'pull_settlement_report'>[] = [];
    for (const iev of events) {
      if (iev.rawBody === null) {
        // Its body's month was purged before it was processed (a retention shorter than the backlog).
        const reason = 'the raw body expired (SWITCHYARD_RETENTION_INBOUND_BODY_DAYS) before the event was processed';
        marks.push({ id: iev.id, status: 'failed', paymentId: null, error: reason, stale: false });
        outcomes.set(iev.id, { result: 'failed', reason });
        continue;
      }
      // verify or fetch: a `trust: fetch` source's event is applied from its PSP object, read by its own job
      const state = iev.trust === 'fetch' ? fetch.states?.get(iev.id) : undefined;
      if (iev.trust === 'fetch' && !state) {
        if (!ids.includes(iev.id)) continue;
        fetch.deferred.push(iev.id);
        outcomes.set(iev.id, { result: 'deferred', reason: 'its PSP object is read by a fetch_inbound_objects job', runAt: now });
        continue;
      }
      const normalized = state ? normalizeWithState(iev.provider, iev.rawBody, state) : normalizeInbound(iev.provider, iev.rawBody);
      if (normalized.kind === 'event') {
        items.push({ merchantId: iev.merchantId, sourceId: iev.sourceId, report: normalized.event, cause: iev.id, provider: iev.provider });
        continue;
      }
      if (normalized.kind === 'report') {
        // a settlement report is ready at the PSP: a job pulls it (src/reconciliation/pull-report.task.ts)
        pulls.push({ merchantId: iev.merchantId, sourceId: iev.sourceId, report: normalized.report });
        marks.push({ id: iev.id, status: 'processed', paymentId: null, error: null, stale: false });
        outcomes.set(iev.id, { result: 'report_pull_queued' });
        continue;
      }
      const result = normalized.kind === 'ignored' ? 'ignored' : 'failed';
      marks.push({ id: iev.id, status: result, paymentId: null, error: normalized.reason, stale: false });
      outcomes.set(iev.id, { result, reason: normalized.reason });
    }

    // risk rules (README "Risk rules"): the computed attributes of the reports that may authorize or capture a payment
    // first, read in the same pipeline as the reports' own reads
    const riskReports: InboundRiskReport[] = items.map((i) => ({
      merchantId: i.merchantId,
      sourceId: i.sourceId,
      cause: i.cause,
      provider: i.provider,
      pspReference: i.report.pspReference,
      kind: i.report.kind,
      amount: i.report.amount,
      currency: i.report.currency,
      riskFacts: i.report.riskFacts,
    }));
    const riskRead = readInboundRiskAhead(tx, rules, riskReports, now);
    riskRead.catch(() => undefined); // awaited below; a failure there fails the transaction
    const prepared = await preparePaymentReports(tx, items, now);
    prepared.results.forEach((r, n) => {
      const id = items[n]!.cause;
      if (r.result === 'currency_mismatch') {
        marks.push({ id, status: 'failed', paymentId: r.payment.id, error: r.reason, stale: false });
        outcomes.set(id, { result: 'failed', reason: r.reason });
        return;
      }
      marks.push({ id, status: 'processed', paymentId: r.payment.id, error: null, stale: r.result === 'stale' });
      outcomes.set(
        id,
        r.result === 'stale'
          ? { result: 'stale', paymentId: r.payment.id }
          : {
              result: 'applied',
              paymentId: r.payment.id,
              steps: r.outcome.steps.length,
              postings: r.outcome.postings.length,
              events: r.events,
            },
      );
    });
    // risk rules on payments these events authorized or captured first (README "Risk rules"), read before any write
    // so the merchant's ledger accounts are not held while they run
    const risk = await planInboundAssessment(tx, await riskRead, riskReports, prepared.results, now);
    // sent without waiting between them: the marks, then the reports' writes (postings last)
    await Promise.all([
      markInboundEvents(tx, marks, now),
      writePaymentReports(tx, prepared, handoff),
      writeAssessment(tx, risk),
      ...pulls.map((p) => enqueueReportPull(tx, p)),
      handed && handed.jobIds.length > 0 ? removeHandedJobs(tx, handed.jobIds, handed.poolId) : undefined,
      fetch.deferred.length > 0 ? enqueueInboundFetch(tx, fetch.deferred) : undefined,
      fetch.later ? enqueueInboundFetch(tx, fetch.later.ids, fetch.later.runAt, fetch.later.retries) : undefined,
    ]);
    return ids.map((id) => outcomes.get(id) ?? ({ result: 'already_processed' } as const));
  });
  if (handed) handed.removed = true;
  if (handoff) {
    options.handoff!.attempts.push(...handoff.attempts);
    options.handoff!.jobIds.push(...handoff.jobIds);
  }
  return outcomes;
}
