import type { Tx } from '../core/db/client.js';
import { newId } from '../core/ids.js';

/** Message statuses a replay takes. */
export type ReplayMessageStatus = 'failed' | 'pending';
/** The class of a message's last response: `none` when it got none (timeout, refused, never attempted). */
export type ResponseStatusClass = '4xx' | '5xx' | 'none';

/** What a replay selects (docs/http-api.md "Replays"). */
export interface ReplayFilter {
  merchantId: string;
  endpointId: string | null;
  since: Date;
  until: Date;
  statuses: ReplayMessageStatus[];
  responseClasses: ResponseStatusClass[] | null;
  eventTypes: string[] | null;
}

/** A replay row. */
export interface Replay extends ReplayFilter {
  id: string;
  pageSize: number;
  status: 'running' | 'completed' | 'cancelled';
  total: number;
  done: number;
  queued: number;
  skipped: number;
  pagesDone: number;
  cursor: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

interface ReplayDbRow {
  id: string;
  merchant_id: string;
  endpoint_id: string | null;
  since: Date;
  until: Date;
  statuses: ReplayMessageStatus[];
  response_classes: ResponseStatusClass[] | null;
  event_types: string[] | null;
  page_size: number;
  status: Replay['status'];
  total: number;
  done: number;
  queued: number;
  skipped: number;
  pages_done: number;
  cursor: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const toReplay = (r: ReplayDbRow): Replay => ({
  id: r.id,
  merchantId: r.merchant_id,
  endpointId: r.endpoint_id,
  since: r.since,
  until: r.until,
  statuses: r.statuses,
  responseClasses: r.response_classes,
  eventTypes: r.event_types,
  pageSize: r.page_size,
  status: r.status,
  total: r.total,
  done: r.done,
  queued: r.queued,
  skipped: r.skipped,
  pagesDone: r.pages_done,
  cursor: r.cursor,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
});

/** A message a replay page looked at, locked `for update`. */
export interface ReplayCandidate {
  id: string;
  status: ReplayMessageStatus;
  attempts: number;
  nextAttemptAt: Date | null;
}

/** The messages `f` selects after message `after` (exclusive; null: from the start), id order, at most `limit`. */
function candidates(tx: Tx, f: ReplayFilter, after: string | null, limit: number | null) {
  return tx`
    from gw.messages m
    join gw.events e on e.id = m.event_id
    join gw.endpoints ep on ep.id = m.endpoint_id
   where m.merchant_id = ${f.merchantId}
     and (${f.endpointId}::text is null or m.endpoint_id = ${f.endpointId})
     and m.created_at >= ${f.since} and m.created_at < ${f.until}
     and (${after}::text is null or m.id > ${after})
     and m.status = any(${f.statuses}::text[])
     and ep.status = 'enabled'
     and (${f.eventTypes}::text[] is null or e.type = any(${f.eventTypes}::text[]))
     and (${f.responseClasses}::text[] is null or coalesce((
           select case when a.response_status is null then 'none'
                       when a.response_status between 400 and 499 then '4xx'
                       when a.response_status >= 500 then '5xx'
                       else 'other' end
             from gw.attempts a
            where a.message_id = m.id
            order by a.attempt_number desc
            limit 1), 'none') = any(${f.responseClasses}::text[]))
   ${limit === null ? tx`` : tx`order by m.id limit ${limit}`}`;
}

/** How many messages `f` selects now. */
export async function countReplayMessages(tx: Tx, f: ReplayFilter): Promise<number> {
  const [row] = await tx<{ n: number }[]>`select count(*)::int as n ${candidates(tx, f, null, null)}`;
  return row!.n;
}

/** Inserts a running replay of `total` messages, id `rpl_…` at `now`. */
export async function insertReplay(tx: Tx, f: ReplayFilter & { total: number; pageSize: number; now: Date }): Promise<Replay> {
  const [row] = await tx<ReplayDbRow[]>`
    insert into gw.replays (id, merchant_id, endpoint_id, since, until, statuses, response_classes, event_types,
                            page_size, total, created_at, updated_at)
    values (${newId('rpl', f.now)}, ${f.merchantId}, ${f.endpointId}, ${f.since}, ${f.until}, ${f.statuses}::text[],
            ${f.responseClasses}::text[], ${f.eventTypes}::text[], ${f.pageSize}, ${f.total}, ${f.now}, ${f.now})
    returning *`;
  return toReplay(row!);
}

/** One of the merchant's replays (any merchant's when `merchantId` is null), or undefined. */
export async function getReplay(tx: Tx, merchantId: string | null, id: string): Promise<Replay | undefined> {
  const [row] = await tx<ReplayDbRow[]>`
    select * from gw.replays where id = ${id} and (${merchantId}::text is null or merchant_id = ${merchantId})`;
  return row && toReplay(row);
}

/** As {@link getReplay}, locked `for update` until the caller's transaction ends. */
export async function lockReplay(tx: Tx, merchantId: string | null, id: string): Promise<Replay | undefined> {
  const [row] = await tx<ReplayDbRow[]>`
    select * from gw.replays where id = ${id} and (${merchantId}::text is null or merchant_id = ${merchantId}) for update`;
  return row && toReplay(row);
}

/** The next page of a replay's messages after its cursor, locked `for update` (an attempt being recorded waits). */
export async function lockReplayPage(tx: Tx, r: Replay): Promise<ReplayCandidate[]> {
  const rows = await tx<{ id: string; status: ReplayMessageStatus; attempts: number; next_attempt_at: Date | null }[]>`
    select m.id, m.status, m.attempts, m.next_attempt_at ${candidates(tx, r, r.cursor, r.pageSize)} for update of m`;
  return rows.map((m) => ({ id: m.id, status: m.status, attempts: m.attempts, nextAttemptAt: m.next_attempt_at }));
}

/** Makes messages pending, due at `at` (their attempts are queued by the caller). */
export async function reopenMessages(tx: Tx, messageIds: readonly string[], at: Date): Promise<void> {
  if (messageIds.length === 0) return;
  await tx`update gw.messages set status = 'pending', next_attempt_at = ${at} where id = any(${messageIds as string[]}::text[])`;
}

/** Records a page: the cursor moves to `cursor`, the counts grow; `finished` completes the replay (total := done). */
export async function recordReplayPage(
  tx: Tx,
  input: { id: string; cursor: string | null; queued: number; skipped: number; finished: boolean; now: Date },
): Promise<void> {
  await tx`
    update gw.replays
       set cursor = coalesce(${input.cursor}, cursor),
           done = done + ${input.queued + input.skipped}, queued = queued + ${input.queued}, skipped = skipped + ${input.skipped},
           pages_done = pages_done + 1,
           status = case when ${input.finished} then 'completed' else status end,
           total = case when ${input.finished} then done + ${input.queued + input.skipped} else total end,
           finished_at = case when ${input.finished} then ${input.now}::timestamptz else finished_at end,
           updated_at = ${input.now}
     where id = ${input.id}`;
}

/** Cancels a running replay; the replay as it now is, or undefined when it was not running. */
export async function cancelRunningReplay(tx: Tx, id: string, now: Date): Promise<Replay | undefined> {
  const [row] = await tx<ReplayDbRow[]>`
    update gw.replays set status = 'cancelled', finished_at = ${now}, updated_at = ${now}
     where id = ${id} and status = 'running'
     returning *`;
  return row && toReplay(row);
}
