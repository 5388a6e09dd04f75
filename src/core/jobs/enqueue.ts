// The add_job site, but for the ack path's store (src/inbound/inbound-event-store.ts). Jobs are queued in the
// caller's transaction: one exists iff its writes commit.
import type postgres from 'postgres';
import type { Tx } from '../db/client.js';
import type { DeliveryJob, JobPayload } from './catalog.js';

/** Queues `sync_psp_operation` at `runAt`, one per operation (job key). Source: https://worker.graphile.org/docs/sql-add-job */
export async function enqueueOperationSync(tx: Tx, operationId: string, runAt: Date): Promise<void> {
  const payload: JobPayload<'sync_psp_operation'> = { operationId };
  await tx`
    select graphile_worker.add_job(
      'sync_psp_operation',
      ${tx.json(payload)}::json,
      run_at => ${runAt}::timestamptz,
      max_attempts => 5,
      job_key => ${`psp-sync:${operationId}`}::text)`;
}

/** Queues `retry_review_compensation` for attempt `attempt` at `runAt`, once per review (job key), with 3 tries for database errors. */
export async function enqueueCompensationRetry(
  tx: Tx,
  job: { merchantId: string; reviewId: string; attempt: number },
  runAt: Date,
): Promise<void> {
  const payload: JobPayload<'retry_review_compensation'> = job;
  await tx`
    select graphile_worker.add_job(
      'retry_review_compensation',
      ${tx.json(payload)}::json,
      run_at => ${runAt}::timestamptz,
      max_attempts => 3,
      job_key => ${`review-compensation:${job.reviewId}`}::text)`;
}

/** Queues `reconcile_settlement_report` for a loaded run, once (job key), with up to 5 attempts. */
export async function enqueueReconciliation(tx: Tx, runId: string): Promise<void> {
  const payload: JobPayload<'reconcile_settlement_report'> = { runId };
  await tx`
    select graphile_worker.add_job('reconcile_settlement_report', ${tx.json(payload)}::json,
                                   max_attempts => 5, job_key => ${`reconcile:${runId}`}::text)`;
}

/**
 * Queues `pull_settlement_report`, keyed per source and report (`pull-report:<sourceId>:<payout id or file name>`) so
 * two notices of one report (Stripe's `payout.paid` then `payout.reconciliation_completed`) queue one job while it waits;
 * a later pull of the same report loads the same bytes, which the run's hash answers with the first run.
 */
export async function enqueueReportPull(tx: Tx, payload: JobPayload<'pull_settlement_report'>): Promise<void> {
  const name = payload.report.kind === 'stripe_payout' ? payload.report.payoutId : payload.report.fileName;
  await tx`
    select graphile_worker.add_job('pull_settlement_report', ${tx.json(payload)}::json,
                                   max_attempts => 10, job_key => ${`pull-report:${payload.sourceId}:${name}`}::text)`;
}

/**
 * Queues page `page` of a bulk replay (`replay_messages`), keyed `replay:<replayId>:<page>` so a page is queued
 * once however often its predecessor commits. Source: https://worker.graphile.org/docs/sql-add-job
 */
export async function enqueueReplayPage(tx: Tx, replayId: string, page: number): Promise<void> {
  const payload: JobPayload<'replay_messages'> = { replayId, page };
  await tx`
    select graphile_worker.add_job(
      'replay_messages',
      ${tx.json(payload)}::json,
      max_attempts => 25,
      job_key => ${`replay:${replayId}:${page}`}::text)`;
}

/** Attempts of an operational webhook (graphile-worker's backoff, exp(min(n, 10)) s after the n-th: about 16 hours in all). */
export const OPERATOR_EVENT_MAX_ATTEMPTS = 12;

/** Queues the delivery of operational webhook `operatorEventId`, retried by graphile-worker with its backoff. */
export async function enqueueOperatorEvent(tx: Tx, operatorEventId: string): Promise<void> {
  const payload: JobPayload<'deliver_operator_event'> = { operatorEventId };
  await tx`
    select graphile_worker.add_job(
      'deliver_operator_event',
      ${tx.json(payload)}::json,
      max_attempts => ${OPERATOR_EVENT_MAX_ATTEMPTS}::int,
      job_key => ${`operator-event:${operatorEventId}`}::text)`;
}

/** graphile-worker's retries of a delivery job after a thrown (infrastructure) error; not delivery attempts. */
const JOB_MAX_ATTEMPTS = 25;
/** Batch jobs of first attempts per endpoint and second (see {@link enqueueFirstAttempts}). */
const BATCH_LANES = 4;
/** The most attempts {@link enqueueDeliveryBatches} puts in one job. */
const MAX_BATCH_JOB_ENTRIES = 200;
/** add_jobs calls before a keyed job that workers keep locking is given up on. */
const KEYED_TRIES = 5;
/** Put-off attempts of one endpoint whose times fall in one bucket of this many ms share a job (see {@link enqueuePutOff}). */
export const PUT_OFF_BUCKET_MS = 5_000;
/** Put-offs of this many attempts or more get jobs of their own (see {@link enqueuePutOff}). */
export const PUT_OFF_MERGE_BELOW = 50;

/**
 * Queues attempt 1 of each message, in one `add_jobs` call, into its endpoint's batch job keyed
 * `deliver:<endpointId>:<lane>:<second>`, whose array payload grows while it waits (`job_key_preserve_run_at`).
 * The lane (txid mod {@link BATCH_LANES}) keeps concurrent transactions off one job row; the second bounds
 * the array each merge rewrites. A key whose job is running gets a new job and the running one's attempts set
 * to max (src/app/worker.ts and recovery.ts allow for it), as add_jobs does, but taken over first by
 * {@link takeOverRunningBatchJobs}, which waits for no row: a running job another transaction holds (graphile-worker
 * completing it) keeps its key and the messages get a job keyed `…:<second>:<txid>` instead. A job a worker locks
 * mid-call takes nothing, so those messages are queued again, up to {@link KEYED_TRIES} times. Throws an Error if
 * some still are not.
 * Source: node_modules/graphile-worker/sql/000016.sql (`add_jobs`), https://worker.graphile.org/docs/job-key
 */
export async function enqueueFirstAttempts(tx: Tx, inputs: readonly { messageId: string; endpointId: string }[]): Promise<void> {
  let pending = inputs;
  if (pending.length === 0) return;
  for (let tries = 0; tries < KEYED_TRIES && pending.length > 0; tries++) {
    const { laneSecond, busy } = await takeOverRunningBatchJobs(tx, [...new Set(pending.map((p) => p.endpointId))]);
    const queued = await tx<{ endpointId: string }[]>`
      select split_part(j.key, ':', 2) as "endpointId"
        from graphile_worker.add_jobs(array(
               select row('deliver_message',
                          json_agg(json_build_object('messageId', s."messageId", 'attempt', 1) order by s."messageId"),
                          null, null, ${JOB_MAX_ATTEMPTS}::smallint,
                          'deliver:' || s."endpointId" || ':' || ${laneSecond}::text
                            || case when s."endpointId" = any(${busy}::text[]) then ':' || txid_current()::text else '' end,
                          null, null)::graphile_worker.job_spec
                 from json_to_recordset(${tx.json(pending as unknown as postgres.JSONValue)}::json) as s("messageId" text, "endpointId" text)
                group by s."endpointId"
                -- keys in one order in every transaction: add_jobs locks them in spec order, and two
                -- transactions merging into the same endpoints' jobs in different orders deadlock
                order by s."endpointId"), true) as j`;
    const done = new Set(queued.map((r) => r.endpointId));
    pending = pending.filter((p) => !done.has(p.endpointId));
  }
  if (pending.length > 0) throw new Error(`could not queue the first delivery attempt of ${pending.map((p) => p.messageId).join(', ')}`);
}

/**
 * This transaction's batch-job lane and second (`<lane>:<second>`), and the running batch jobs under those keys of
 * `endpointIds` taken over as add_jobs would (key cleared, attempts at max) but with SKIP LOCKED: `busy` names the
 * endpoints whose running job another transaction holds. add_jobs itself would wait for that row while holding the
 * rows of the keys before it, and graphile-worker's batched completion (`delete … using unnest(ids)`) locks running
 * jobs in the order they finished: two such statements on the same jobs deadlock (40P01), and the completion's
 * failure stops the worker pool. Source: node_modules/graphile-worker/dist/sql/completeJobs.js
 */
async function takeOverRunningBatchJobs(tx: Tx, endpointIds: readonly string[]): Promise<{ laneSecond: string; busy: string[] }> {
  const [row] = await tx<{ laneSecond: string; busy: string[] }[]>`
    with now as (
      select (txid_current() % ${BATCH_LANES}::int)::text || ':' || floor(extract(epoch from clock_timestamp()))::bigint::text as lane_second
    ), keyed as (
      select e as endpoint_id, 'deliver:' || e || ':' || (select lane_second from now) as key
        from unnest(${endpointIds as string[]}::text[]) e
    ), free as (
      select j.id from graphile_worker._private_jobs j
       where j.key in (select key from keyed) and j.is_available is not true
         for update skip locked
    ), taken as (
      update graphile_worker._private_jobs j set key = null, attempts = j.max_attempts, updated_at = now()
        from free where j.id = free.id
      returning j.id
    )
    select (select lane_second from now) as "laneSecond",
           array(select k.endpoint_id from keyed k join graphile_worker._private_jobs j on j.key = k.key
                  where j.is_available is not true and j.id not in (select id from taken)) as busy`;
  return row!;
}

/**
 * Queues attempts in one `add_jobs` call, a job each at its `runAt` (default now), keyed `deliver:<messageId>:<attempt>`
 * (queueing one twice replaces the waiting job). No named queue: it would serialize an endpoint; EndpointSlots caps them.
 * Source: https://worker.graphile.org/docs/sql-add-job
 */
export async function enqueueDeliveries(tx: Tx, items: readonly (DeliveryJob & { runAt?: Date })[]): Promise<void> {
  await addDeliveryJobs(
    tx,
    items.map((i) => ({
      payload: { messageId: i.messageId, attempt: i.attempt },
      run_at: i.runAt?.toISOString() ?? null,
      job_key: `deliver:${i.messageId}:${i.attempt}`,
    })),
  );
}

/**
 * Queues attempts one endpoint turned away for now (hanging, open circuit, rate limit) into its put-off job at
 * `retryAt`, keyed `deliver:<endpointId>:<window>` (default `later:<PUT_OFF_BUCKET_MS bucket of retryAt>`), whose
 * array payload grows while it waits: one job per window, not per attempt. {@link PUT_OFF_MERGE_BELOW} attempts or
 * more go to {@link enqueueDeliveryBatches}. Retries and throws as {@link enqueueFirstAttempts} does.
 * Source: node_modules/graphile-worker/sql/000016.sql (`add_jobs`)
 */
export async function enqueuePutOff(
  tx: Tx,
  input: { endpointId: string; attempts: readonly DeliveryJob[]; retryAt: Date; window?: string },
): Promise<void> {
  if (input.attempts.length >= PUT_OFF_MERGE_BELOW) return enqueueDeliveryBatches(tx, input.attempts, input.retryAt);
  const payload = input.attempts.map((a) => ({ messageId: a.messageId, attempt: a.attempt }));
  const key = `deliver:${input.endpointId}:${input.window ?? `later:${Math.floor(input.retryAt.getTime() / PUT_OFF_BUCKET_MS)}`}`;
  for (let tries = 0; tries < KEYED_TRIES; tries++) {
    const queued = await tx`
      select 1 from graphile_worker.add_jobs(array[
        row('deliver_message', ${tx.json(payload)}::json, null, ${input.retryAt}::timestamptz, ${JOB_MAX_ATTEMPTS}::smallint, ${key}::text, null, null)::graphile_worker.job_spec
      ], true)`;
    if (queued.length > 0) return;
  }
  throw new Error(`could not put off the delivery attempts of ${payload.map((p) => p.messageId).join(', ')}`);
}

/**
 * Queues `attempts` (first attempts its caller makes itself right after the commit) as one batch job, due now but
 * committed already locked by the caller's worker pool `poolId`, as if that pool had fetched it: no other worker
 * runs it while the caller delivers, and should the caller die first, recovery unlocks it with the rest of a dead
 * pool's jobs (recovery.ts). The caller deletes it when done (job-store.ts `removeHandedJobs`) or unlocks it to hand
 * the attempts back (`releaseHandedJobs`). Returns the job's id.
 *
 * Written into graphile-worker's job table directly, in one statement and without add_job's NOTIFY (no worker may
 * take the job, so none is woken); add_job then a locking update where the task is not registered yet.
 * Source: node_modules/graphile-worker/sql/000018.sql (`add_job`)
 */
export async function enqueueHandoff(tx: Tx, attempts: readonly DeliveryJob[], poolId: string): Promise<string> {
  const payload = attempts.map((a) => ({ messageId: a.messageId, attempt: a.attempt }));
  const [inserted] = await tx<{ id: string }[]>`
    insert into graphile_worker._private_jobs (task_id, payload, max_attempts, locked_at, locked_by)
    select id, ${tx.json(payload)}::json, ${JOB_MAX_ATTEMPTS}::smallint, now(), ${poolId}
      from graphile_worker._private_tasks where identifier = 'deliver_message'
    returning id::text as id`;
  if (inserted) return inserted.id;
  // Two statements: an update in the add_job call's own statement would not see the row it inserts.
  const [job] = await tx<{ id: string }[]>`
    select (graphile_worker.add_job('deliver_message', ${tx.json(payload)}::json, max_attempts => ${JOB_MAX_ATTEMPTS}::smallint)).id::text as id`;
  await tx`update graphile_worker._private_jobs set locked_at = now(), locked_by = ${poolId} where id = ${job!.id}::bigint`;
  return job!.id;
}

/** Queues attempts as unkeyed batch jobs of at most {@link MAX_BATCH_JOB_ENTRIES}, in one `add_jobs` call, at `runAt` (or now). */
export async function enqueueDeliveryBatches(tx: Tx, items: readonly DeliveryJob[], runAt?: Date): Promise<void> {
  const specs: { payload: DeliveryJob[]; run_at: string | null; job_key: null }[] = [];
  for (let i = 0; i < items.length; i += MAX_BATCH_JOB_ENTRIES) {
    specs.push({
      payload: items.slice(i, i + MAX_BATCH_JOB_ENTRIES).map((j) => ({ messageId: j.messageId, attempt: j.attempt })),
      run_at: runAt?.toISOString() ?? null,
      job_key: null,
    });
  }
  await addDeliveryJobs(tx, specs);
}

async function addDeliveryJobs(
  tx: Tx,
  specs: { payload: JobPayload<'deliver_message'>; run_at: string | null; job_key: string | null }[],
): Promise<void> {
  if (specs.length === 0) return;
  await tx`
    select count(*) from graphile_worker.add_jobs(array(
      select row('deliver_message', s.payload, null, s.run_at, ${JOB_MAX_ATTEMPTS}::smallint, s.job_key, null, null)::graphile_worker.job_spec
        from json_to_recordset(${tx.json(specs as unknown as postgres.JSONValue)}::json) as s(payload json, run_at timestamptz, job_key text)
       order by s.job_key))`;
}

/**
 * Queues a `fetch_inbound_objects` job for `ids` (verify or fetch, src/inbound/verify-or-fetch.ts) in the caller's
 * transaction, due at `runAt` (default now): the events of `trust: fetch` sources that a processing transaction
 * left `received`, or whose PSP object cannot be read yet (the merchant's read budget used up, the PSP not
 * answering). `retries` (default 0) is how many of their reads found the PSP unavailable so far: it picks the job's
 * next wait. Source: https://worker.graphile.org/docs/sql-add-job
 */
export async function enqueueInboundFetch(tx: Tx, ids: readonly string[], runAt?: Date, retries = 0): Promise<void> {
  if (ids.length === 0) return;
  const payload: JobPayload<'fetch_inbound_objects'> = { inboundEventIds: [...ids], ...(retries > 0 ? { retries } : {}) };
  await tx`select graphile_worker.add_job('fetch_inbound_objects', ${tx.json(payload)}::json, run_at => ${runAt ?? null}::timestamptz)`;
}
