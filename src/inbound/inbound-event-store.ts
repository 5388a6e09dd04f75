import type postgres from 'postgres';
import type { Tx } from '../core/db/client.js';
import { concatBytes } from '../core/crypto.js';
import { newId } from '../core/ids.js';

/** A stored inbound event as `GET /v1/inbound-events/{id}` shows it. */
export interface InboundEventRow {
  id: string;
  sourceId: string;
  eventId: string;
  eventType: string | null;
  status: string;
  /** Processed, but it changed nothing: a duplicate, or it arrived after its successors. */
  stale: boolean;
  paymentId: string | null;
  error: string | null;
  receivedAt: Date;
  processedAt: Date | null;
}

/** An inbound event with what PSP sent; both null once expired (SWITCHYARD_RETENTION_INBOUND_BODY_DAYS). */
export interface InboundEventWithBody extends InboundEventRow {
  headers: Record<string, string> | null;
  rawBody: Uint8Array | null;
}

const columns = (tx: Tx) => tx`
  i.id, i.source_id as "sourceId", i.event_id as "eventId", i.event_type as "eventType", i.status, i.stale,
  i.payment_id as "paymentId", i.error, i.received_at as "receivedAt", i.processed_at as "processedAt"`;

/** The merchant's inbound events (without bodies), newest first, filtered; `limit + 1` rows. */
export async function listInboundEvents(
  tx: Tx,
  merchantId: string,
  q: { limit: number; startingAfter?: string; sourceId?: string; status?: string },
): Promise<InboundEventRow[]> {
  return tx<InboundEventRow[]>`
    select ${columns(tx)} from gw.inbound_events i
     where merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and id < ${q.startingAfter}` : tx``}
       ${q.sourceId ? tx`and source_id = ${q.sourceId}` : tx``}
       ${q.status ? tx`and status = ${q.status}` : tx``}
     order by id desc
     limit ${q.limit + 1}`;
}

/** One of the merchant's inbound events with its headers and body (null once expired), or undefined. */
export async function getInboundEvent(tx: Tx, merchantId: string, id: string): Promise<InboundEventWithBody | undefined> {
  const [row] = await tx<InboundEventWithBody[]>`
    select ${columns(tx)}, b.headers, b.raw_body as "rawBody"
      from gw.inbound_events i
      left join gw.inbound_event_bodies b on b.inbound_event_id = i.id
     where i.id = ${id} and i.merchant_id = ${merchantId}`;
  return row;
}

/**
 * Marks a still-`received` inbound event `failed` with `reason` as its `error`, at `now`;
 * false when it was no longer `received`. For data PostgreSQL refuses, which no retry fixes.
 */
export async function markInboundEventFailed(tx: Tx, id: string, reason: string, now: Date): Promise<boolean> {
  const rows = await tx`
    update gw.inbound_events
       set status = 'failed', error = ${reason}, processed_at = ${now}
     where id = ${id}
       and status = 'received'
    returning id`;
  return rows.length > 0;
}

/** One verified event to store: what {@link storeInboundEvents} writes as one `gw.inbound_events` row. */
export interface NewInboundEvent {
  sourceId: string;
  merchantId: string;
  /** The PSP's event id (unique per source). */
  eventId: string;
  eventType: string | null;
  /** The bytes stored as `raw_body`: the verified request body (or one item of a batch). */
  rawBody: Uint8Array;
  /** The request's headers, lower-cased, minus credentials. */
  headers: Record<string, string>;
}

/** What became of one {@link NewInboundEvent}: the stored row's id, and whether it was already there. */
export interface StoredInboundEvent {
  id: string;
  duplicate: boolean;
}

/**
 * Stores verified inbound events and queues ONE `process_inbound_event` job
 * (`{"inboundEventIds": [...]}`) for the rows actually inserted, all in one statement. The
 * job has no key: the unique (source_id, event_id) row is the dedupe.
 *
 * Returns one result per input, in input order. An event already stored (a PSP retry, or
 * twice in `events`: the first wins) is `duplicate: true` with the stored row's id and
 * queues nothing. The caller acks only after the commit. Throws the database error if the
 * statement or its commit fails (then nothing was stored).
 *
 * Rows are inserted in (source, event id) order so overlapping batches take their
 * unique-key locks in the same order and cannot deadlock.
 *
 * @example
 * const [r] = await storeInboundEvents(sql, [{ sourceId, merchantId, eventId: 'evt_1', eventType: 'charge.succeeded', rawBody, headers }]);
 * // r.duplicate === false, r.id === 'iev_…'
 */
export async function storeInboundEvents(tx: Tx, events: readonly NewInboundEvent[]): Promise<StoredInboundEvent[]> {
  return (await storeInboundBatch(tx, events)).stored;
}

/** What {@link storeInboundBatch} stored and queued. */
export interface StoredInboundBatch {
  /** One result per input, in input order (see {@link storeInboundEvents}). */
  stored: StoredInboundEvent[];
  /** The job committed locked by `lockedBy`, and the inbound events it processes; absent when none was (nothing new, or no `lockedBy`). */
  handed?: { jobId: string; inboundEventIds: string[] };
}

/**
 * {@link storeInboundEvents}, whose rows take `options.ids` when given (one per event, in order), and whose job, with `options.lockedBy`, is inserted already locked by that graphile-worker
 * pool (`locked_at` now, no NOTIFY), for the caller to hand to it (core/jobs/processing-handoff.ts): no other worker
 * fetches it, and recovery unlocks it should the pool die first (core/jobs/recovery.ts). Where the task is not
 * registered yet, the job is queued with add_job as usual and `handed` is absent. Throws the database error.
 * Source: node_modules/graphile-worker/sql/000018.sql (`add_job`), which the direct insert mirrors
 */
export async function storeInboundBatch(
  tx: Tx,
  events: readonly NewInboundEvent[],
  options: { lockedBy?: string; ids?: readonly string[] } = {},
): Promise<StoredInboundBatch> {
  if (events.length === 0) return { stored: [] };
  const ids = options.ids ? [...options.ids] : events.map(() => newId('iev'));
  const order = events.map((_, i) => i).sort((a, b) => compareKeys(events[a]!, events[b]!));
  // Rows as one JSON document and bodies as one bytea: the statement text does not vary with
  // batch size (one prepared plan per connection) and needs no array types (Workers client).
  const rows: {
    ord: number;
    id: string;
    sourceId: string;
    merchantId: string;
    eventId: string;
    eventType: string | null;
    off: number;
    len: number;
    headers: Record<string, string>;
  }[] = [];
  let at = 0;
  for (const [ord, i] of order.entries()) {
    const e = events[i]!;
    rows.push({
      ord,
      id: ids[i]!,
      sourceId: e.sourceId,
      merchantId: e.merchantId,
      eventId: e.eventId,
      eventType: e.eventType,
      off: at,
      len: e.rawBody.byteLength,
      headers: e.headers,
    });
    at += e.rawBody.byteLength;
  }
  const bodies = concatBytes(...order.map((i) => events[i]!.rawBody));
  const [result] = await tx<{ inserted: string[]; handed: string | null }[]>`
    with r as (
      select * from jsonb_to_recordset(${tx.json(rows as unknown as postgres.JSONValue)}::jsonb)
               as r(ord int, id text, "sourceId" text, "merchantId" text, "eventId" text, "eventType" text,
                    off int, len int, headers jsonb)
    ), ins as (
      insert into gw.inbound_events (id, source_id, merchant_id, event_id, event_type)
      select r.id, r."sourceId", r."merchantId", r."eventId", r."eventType"
        from r
       order by r.ord
      on conflict (source_id, event_id) do nothing
      returning id
    ), body as (
      -- the bytes go to the month partition of the id (sql/0025_retention.sql)
      insert into gw.inbound_event_bodies (inbound_event_id, raw_body, headers)
      select ins.id, substring(${bodies}::bytea from r.off + 1 for r.len), r.headers
        from ins join r on r.id = ins.id
    ), handed as (
      -- the job locked by the caller's pool, when it gave one (max_attempts: add_job's default)
      insert into graphile_worker._private_jobs (task_id, payload, max_attempts, locked_at, locked_by)
      select t.id, json_build_object('inboundEventIds', (select json_agg(id order by id) from ins)), 25, now(), ${options.lockedBy ?? null}::text
        from graphile_worker._private_tasks t
       where t.identifier = 'process_inbound_event'
         and ${options.lockedBy ?? null}::text is not null
         and exists (select 1 from ins)
      returning id
    )
    -- add_job sits in a case: an all-duplicate batch queues nothing and sends no NOTIFY. It is written here, not
    -- through core/jobs/enqueue.ts, because the ack path pays for a postgres.js fragment (payload: core/jobs/catalog.ts).
    select (select coalesce(json_agg(id), '[]') from ins) as inserted,
           (select id::text from handed) as handed,
           case when exists (select 1 from ins) and not exists (select 1 from handed) then (
             select (graphile_worker.add_job('process_inbound_event',
                       json_build_object('inboundEventIds', (select json_agg(id order by id) from ins)))).id
           ) end as queued`;
  const inserted = new Set(result!.inserted);
  const out: StoredInboundEvent[] = ids.map((id) => ({ id, duplicate: !inserted.has(id) }));
  const duplicates = out.flatMap((r, i) => (r.duplicate ? [i] : []));
  if (duplicates.length > 0) {
    // Rare (a PSP retry): the stored rows' ids, committed by now (a conflicting insert in
    // flight elsewhere was waited for by ours), or inserted by this very statement.
    const keys = duplicates.map((i) => ({ sourceId: events[i]!.sourceId, eventId: events[i]!.eventId }));
    const existing = await tx<{ id: string; sourceId: string; eventId: string }[]>`
      select e.id, e.source_id as "sourceId", e.event_id as "eventId"
        from gw.inbound_events e
        join jsonb_to_recordset(${tx.json(keys)}::jsonb) as k("sourceId" text, "eventId" text)
          on e.source_id = k."sourceId" and e.event_id = k."eventId"`;
    const byKey = new Map(existing.map((r) => [`${r.sourceId}\u0000${r.eventId}`, r.id]));
    for (const i of duplicates) {
      out[i]!.id = byKey.get(`${events[i]!.sourceId}\u0000${events[i]!.eventId}`) ?? out[i]!.id;
    }
  }
  return result!.handed ? { stored: out, handed: { jobId: result!.handed, inboundEventIds: [...inserted].sort() } } : { stored: out };
}

function compareKeys(a: NewInboundEvent, b: NewInboundEvent): number {
  if (a.sourceId !== b.sourceId) return a.sourceId < b.sourceId ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

// A correlated subquery, not a join: one primary-key probe per row, pruned to the id's month at run time, where the
// planner could otherwise hash-join every partition of a small table (sql/0025_retention.sql).
const rawBodyOf = (tx: Tx) => tx`(select b.raw_body from gw.inbound_event_bodies b where b.inbound_event_id = i.id)`;

/** A stored inbound event still to process: its bytes (null once expired), and the provider of its source. */
interface ReceivedInboundEvent {
  id: string;
  merchantId: string;
  sourceId: string;
  provider: string;
  /** The source's `trust` (README "Verify or fetch"): `fetch` events are applied from the PSP's object. */
  trust: 'signature' | 'fetch';
  rawBody: Uint8Array | null;
}

/**
 * Locks the inbound events `ids` `for update` in id order (so callers cannot deadlock) and
 * returns those still `received`. With `more` > 0, also locks up to `more` other `received`
 * events of the first one's merchant, oldest first, `skip locked`. Sets the transaction's
 * `synchronous_commit`.
 */
export async function lockReceivedInboundEvents(
  tx: Tx,
  ids: readonly string[],
  options: { more: number; synchronousCommit: boolean },
): Promise<ReceivedInboundEvent[]> {
  const rows = await tx<(ReceivedInboundEvent & { status: string })[]>`
    select i.id, i.status, ${rawBodyOf(tx)} as "rawBody", i.merchant_id as "merchantId", i.source_id as "sourceId", s.provider, s.trust,
           set_config('synchronous_commit', ${options.synchronousCommit ? 'on' : 'off'}, true) as synchronous_commit
      from gw.inbound_events i
      join gw.sources s on s.id = i.source_id
     where i.id = any(${ids as string[]}::text[])
     order by i.id
       for update of i`;
  const received: ReceivedInboundEvent[] = rows
    .filter((r) => r.status === 'received')
    .map((r) => ({ id: r.id, merchantId: r.merchantId, sourceId: r.sourceId, provider: r.provider, trust: r.trust, rawBody: r.rawBody }));
  if (options.more > 0 && received.length > 0) {
    const more = await tx<ReceivedInboundEvent[]>`
      select i.id, ${rawBodyOf(tx)} as "rawBody", i.merchant_id as "merchantId", i.source_id as "sourceId", s.provider, s.trust
        from gw.inbound_events i
        join gw.sources s on s.id = i.source_id
       where i.merchant_id = ${received[0]!.merchantId}
         and i.status = 'received'
         and i.id <> all(${ids as string[]}::text[])
       order by i.id
       limit ${options.more}
         for update of i skip locked`;
    received.push(...more);
  }
  return received;
}

/** What processing made of one inbound event; `stale`: processed, but it changed nothing. */
export type InboundEventMark = {
  id: string;
  status: 'processed' | 'ignored' | 'failed';
  paymentId: string | null;
  error: string | null;
  stale: boolean;
};

/** Records the outcome of processing inbound events, all in one statement, `processed_at` = `now`. */
export async function markInboundEvents(tx: Tx, marks: readonly InboundEventMark[], now: Date): Promise<void> {
  if (marks.length === 0) return;
  await tx`
    update gw.inbound_events i
       set status = x.status, payment_id = x."paymentId", error = x.error, processed_at = ${now}, stale = x.stale
      from json_to_recordset(${tx.json(marks as InboundEventMark[])}::json) as x(id text, status text, "paymentId" text, error text, stale boolean)
     where i.id = x.id`;
}
