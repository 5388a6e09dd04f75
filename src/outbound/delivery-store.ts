import type { Tx } from '../core/db/client.js';
import { newId } from '../core/ids.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import { enqueuePutOff } from '../core/jobs/enqueue.js';

/** What one delivery attempt needs, read in one query: the message, its bytes, the endpoint's state and secrets. */
export interface DeliveryRow {
  id: string;
  status: string;
  attempts: number;
  event_id: string;
  endpoint_id: string;
  payload: Uint8Array;
  url: string;
  endpoint_status: string;
  merchant_id: string;
  consecutive_failures: number;
  failing_since: Date | null;
  circuit_open_until: Date | null;
  rate_limit_per_second: number | null;
  max_in_flight: number;
  /** Envelopes of the secrets that sign at `now`, newest first. */
  secret_envelopes: string[];
  /** Envelope of the endpoint's Ed25519 private key when it signs `v1a` too, else null. */
  ed25519_envelope: string | null;
  /**
   * On an `ordered` endpoint, whether an older message of the same payment to it is still
   * pending (this one must wait), and that message's next attempt time (the earliest, if several).
   */
  waits: boolean;
  waits_until: Date | null;
}

/**
 * The messages to deliver, with everything their attempts need (event payload, endpoint
 * state, ordering wait, the endpoint's unexpired secret envelopes newest first), in ONE
 * query: the pending ones among `messageIds` (others are left out: nothing is left to send
 * for them), in no particular order.
 */
export async function loadDeliveries(tx: Tx, messageIds: readonly string[], now: Date): Promise<DeliveryRow[]> {
  if (messageIds.length === 0) return [];
  return tx<DeliveryRow[]>`
    select m.id, m.status, m.attempts, m.event_id, m.endpoint_id, e.payload, ep.url, ep.status as endpoint_status,
           ep.merchant_id, ep.consecutive_failures, ep.failing_since, ep.circuit_open_until, ep.rate_limit_per_second,
           ep.max_in_flight, ep.ed25519_private_envelope as ed25519_envelope,
           case when ep.ordered and m.ordered_payment_id is not null then exists (
             select 1 from gw.messages p
              where p.endpoint_id = m.endpoint_id and p.ordered_payment_id = m.ordered_payment_id
                and p.id < m.id and p.status = 'pending') else false end as waits,
           case when ep.ordered and m.ordered_payment_id is not null then (
             select min(p.next_attempt_at) from gw.messages p
              where p.endpoint_id = m.endpoint_id and p.ordered_payment_id = m.ordered_payment_id
                and p.id < m.id and p.status = 'pending') end as waits_until,
           s.secret_envelopes
      from gw.messages m
      join gw.events e on e.id = m.event_id
      join gw.endpoints ep on ep.id = m.endpoint_id
      cross join lateral (
        select array(select s.ciphertext from gw.endpoint_secrets s
                      where s.endpoint_id = ep.id and (s.expires_at is null or s.expires_at > ${now})
                      order by s.id desc) as secret_envelopes) s
     where m.id = any(${messageIds as string[]}::text[]) and m.status = 'pending'`;
}

/** Fails the pending messages among `messageIds` (their endpoint is no longer enabled). */
export async function failMessages(tx: Tx, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await tx`
    update gw.messages set status = 'failed', next_attempt_at = null
     where id = any(${messageIds as string[]}::text[]) and status = 'pending'`;
}

/**
 * Puts attempts to one endpoint off to `retryAt`, uncounted (open circuit, rate limit, a
 * slow or busy endpoint, an ordered message waiting for its predecessor): their messages'
 * `next_attempt_at` is set, and they join the endpoint's put-off job for `retryAt`'s
 * time bucket ({@link enqueuePutOff}), so an endpoint that keeps turning attempts away has
 * one job coming back every few seconds, not one per attempt.
 */
export async function postponeAttempts(
  tx: Tx,
  input: { endpointId: string; attempts: readonly DeliveryJob[]; retryAt: Date },
): Promise<void> {
  if (input.attempts.length === 0) return;
  await tx`
    update gw.messages set next_attempt_at = ${input.retryAt}
     where id = any(${input.attempts.map((a) => a.messageId)}::text[]) and status = 'pending'`;
  await enqueuePutOff(tx, input);
}

/**
 * Holds an endpoint found slow or hanging until `until` (`held_until`, moved forward only):
 * until then emitEvent queues its new messages for `until` in its put-off job instead of a
 * first-attempt job now (sql/0014_endpoint_held_until.sql).
 */
export async function holdEndpoint(tx: Tx, endpointId: string, until: Date): Promise<void> {
  await tx`
    update gw.endpoints set held_until = ${until}
     where id = ${endpointId} and (held_until is null or held_until < ${until})`;
}

/**
 * Locks a message for recording attempt `attempt`; false when it is no longer pending or
 * already counted that attempt (a job that ran twice).
 */
export async function lockUncountedAttempt(tx: Tx, messageId: string, attempt: number): Promise<boolean> {
  const rows = await tx`
    select id from gw.messages where id = ${messageId} and status = 'pending' and attempts < ${attempt} for update`;
  return rows.length > 0;
}

/** One attempt's outcome, as stored (CONTRACT.md "Events and attempts"). */
export interface AttemptRecord {
  messageId: string;
  eventId: string;
  endpointId: string;
  attempt: number;
  succeeded: boolean;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
  nextAttemptAt: Date | null;
  /** The message's status afterwards. */
  messageStatus: 'pending' | 'succeeded' | 'failed';
}

/**
 * Records an attempt and moves its message in ONE statement: the attempt row is inserted
 * and the message updated only while the message is pending and has not counted this
 * attempt (so a job that runs twice records once). Returns false when it was already
 * recorded.
 */
export async function recordAttempt(tx: Tx, a: AttemptRecord): Promise<boolean> {
  const rows = await tx`
    with m as (
      select id from gw.messages
       where id = ${a.messageId} and status = 'pending' and attempts < ${a.attempt}
         for update
    ), attempt as (
      insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status,
                               response_body, error, duration_ms, attempted_at, next_attempt_at)
      select gw.new_id('att'), m.id, ${a.eventId}, ${a.endpointId}, ${a.attempt},
             ${a.succeeded ? 'succeeded' : 'failed'}, ${a.responseStatus}, ${a.responseBody}, ${a.error},
             ${a.durationMs}, ${a.attemptedAt}, ${a.nextAttemptAt}
        from m
      returning message_id
    )
    update gw.messages
       set attempts = ${a.attempt}, status = ${a.messageStatus}, last_attempt_at = ${a.attemptedAt},
           next_attempt_at = ${a.nextAttemptAt}
     where id in (select message_id from attempt)
     returning id`;
  return rows.length > 0;
}

/** A successful attempt to an endpoint whose health does not change (see {@link recordSuccesses}). */
export interface SuccessRecord {
  messageId: string;
  attempt: number;
  responseStatus: number;
  responseBody: string;
  durationMs: number;
  attemptedAt: Date;
}

/**
 * Records many successful attempts in ONE statement, as {@link recordAttempt} records one
 * with `messageStatus: 'succeeded'`: each attempt row is inserted and its message marked
 * succeeded only while the message is pending and has not counted that attempt (so a job
 * that runs twice records once). Nothing about the endpoints changes (the caller uses it
 * for endpoints with no failure streak or open circuit).
 *
 * @returns The ids of the messages recorded.
 */
export async function recordSuccesses(tx: Tx, records: readonly SuccessRecord[]): Promise<string[]> {
  if (records.length === 0) return [];
  const rows = await tx<{ id: string }[]>`
    with input as (
      select * from unnest(${records.map((r) => r.messageId)}::text[], ${records.map((r) => newId('att', r.attemptedAt))}::text[],
                           ${records.map((r) => r.attempt)}::int[], ${records.map((r) => r.responseStatus)}::int[],
                           ${records.map((r) => r.responseBody)}::text[], ${records.map((r) => r.durationMs)}::int[],
                           ${records.map((r) => r.attemptedAt.toISOString())}::timestamptz[])
        as t(message_id, attempt_id, attempt_number, response_status, response_body, duration_ms, attempted_at)
    ), moved as (
      -- the update locks each message; a concurrent recorder of the same attempt then finds it counted
      update gw.messages msg
         set attempts = i.attempt_number, status = 'succeeded', last_attempt_at = i.attempted_at, next_attempt_at = null
        from input i
       where msg.id = i.message_id and msg.status = 'pending' and msg.attempts < i.attempt_number
      returning msg.id, msg.event_id, msg.endpoint_id, i.attempt_id, i.attempt_number, i.response_status,
                i.response_body, i.duration_ms, i.attempted_at
    )
    insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status,
                             response_body, error, duration_ms, attempted_at, next_attempt_at)
    select attempt_id, id, event_id, endpoint_id, attempt_number, 'succeeded', response_status,
           response_body, null, duration_ms, attempted_at, null
      from moved
    returning message_id as id`;
  return rows.map((r) => r.id);
}
