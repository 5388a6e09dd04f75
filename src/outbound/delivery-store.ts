import type { Tx } from '../core/db/client.js';
import { newId } from '../core/ids.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import { enqueuePutOff } from '../core/jobs/enqueue.js';
import { dropAttemptsFromJobs, type DeliveryJobOwner } from '../core/jobs/job-store.js';
import type { StoredAuth, StoredHeader } from './endpoints/receiver-options.js';

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
  /** Until when a worker process found the endpoint slow or hanging (holdEndpoint); null when never. */
  held_until: Date | null;
  rate_limit_per_second: number | null;
  max_in_flight: number;
  /** Envelopes of the secrets that sign at `now`, newest first. */
  secret_envelopes: string[];
  /** Envelope of the endpoint's Ed25519 private key when it signs `v1a` too, else null. */
  ed25519_envelope: string | null;
  /** Custom headers and auth to the receiver (sealed), and their version: what receiver-credentials.ts caches decrypted. */
  headers: StoredHeader[];
  auth: StoredAuth | null;
  receiver_version: number;
  /** `ordered` endpoint: an older message of the same payment is pending (this one waits), and its earliest next attempt. */
  waits: boolean;
  waits_until: Date | null;
}

/** A {@link DeliveryRow} as loaded: `payload` is null once the event expired (SWITCHYARD_RETENTION_EVENT_PAYLOAD_DAYS). */
export type LoadedDelivery = Omit<DeliveryRow, 'payload'> & { payload: Uint8Array | null };

/** The pending ones among `messageIds`, with everything their attempts need, in one query, in no order. */
export async function loadDeliveries(tx: Tx, messageIds: readonly string[], now: Date): Promise<LoadedDelivery[]> {
  if (messageIds.length === 0) return [];
  return tx<LoadedDelivery[]>`
    select m.id, m.status, m.attempts, m.event_id, m.endpoint_id,
           -- a correlated subquery: one primary-key probe per message, pruned to the id's month (sql/0025_retention.sql)
           (select p.payload from gw.event_payloads p where p.event_id = m.event_id) as payload, ep.url, ep.status as endpoint_status,
           ep.merchant_id, ep.consecutive_failures, ep.failing_since, ep.circuit_open_until, ep.held_until, ep.rate_limit_per_second,
           ep.max_in_flight, ep.ed25519_private_envelope as ed25519_envelope, ep.headers, ep.auth, ep.receiver_version,
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
      join gw.endpoints ep on ep.id = m.endpoint_id
      cross join lateral (
        select array(select s.ciphertext from gw.endpoint_secrets s
                      where s.endpoint_id = ep.id and (s.expires_at is null or s.expires_at > ${now})
                      order by s.id desc) as secret_envelopes) s
     where m.id = any(${messageIds as string[]}::text[]) and m.status = 'pending'`;
}

/** Fails the pending messages among `messageIds` (their endpoint is no longer enabled, or their event expired). */
export async function failMessages(tx: Tx, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await tx`
    update gw.messages set status = 'failed', next_attempt_at = null
     where id = any(${messageIds as string[]}::text[]) and status = 'pending'`;
}

/**
 * Puts attempts to one endpoint off to `retryAt`, uncounted: sets `next_attempt_at` and adds them to the
 * endpoint's put-off job for that time bucket ({@link enqueuePutOff}), so one job comes back, not one per attempt.
 * They leave the jobs of `owner` (the run that put them off) in the same transaction: the put-off job alone sends them.
 */
export async function postponeAttempts(
  tx: Tx,
  input: { endpointId: string; attempts: readonly DeliveryJob[]; retryAt: Date; owner?: DeliveryJobOwner },
): Promise<void> {
  if (input.attempts.length === 0) return;
  const messageIds = input.attempts.map((a) => a.messageId);
  await tx`
    update gw.messages set next_attempt_at = ${input.retryAt}
     where id = any(${messageIds}::text[]) and status = 'pending'`;
  await enqueuePutOff(tx, input);
  await dropAttemptsFromJobs(tx, input.owner, messageIds);
}

/**
 * Holds a slow or hanging endpoint until `until` (`held_until` only moves forward): meanwhile emitEvent queues its
 * new messages in its put-off job for `until`, not a first-attempt job now.
 */
export async function holdEndpoint(tx: Tx, endpointId: string, until: Date): Promise<void> {
  await tx`
    update gw.endpoints set held_until = ${until}
     where id = ${endpointId} and (held_until is null or held_until < ${until})`;
}

/** Locks a message to record attempt `attempt`; false when it is no longer pending or already counted it (a job ran twice). */
export async function lockUncountedAttempt(tx: Tx, messageId: string, attempt: number): Promise<boolean> {
  const rows = await tx`
    select id from gw.messages where id = ${messageId} and status = 'pending' and attempts < ${attempt} for update`;
  return rows.length > 0;
}

/** One attempt's outcome, as stored (docs/http-api.md "Events and attempts"). */
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
 * Inserts the attempt row and moves its message in one statement, only while the message is pending and has not
 * counted this attempt (a job that runs twice records once). False when it was already recorded.
 */
export async function recordAttempt(tx: Tx, a: AttemptRecord): Promise<boolean> {
  const rows = await tx`
    with m as (
      select id from gw.messages
       where id = ${a.messageId} and status = 'pending' and attempts < ${a.attempt}
         for update
    ), attempt as (
      insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status,
                               error, duration_ms, attempted_at, next_attempt_at)
      select ${newId('att', a.attemptedAt)}, m.id, ${a.eventId}, ${a.endpointId}, ${a.attempt},
             ${a.succeeded ? 'succeeded' : 'failed'}, ${a.responseStatus}, ${a.error},
             ${a.durationMs}, ${a.attemptedAt}, ${a.nextAttemptAt}
        from m
      returning id, message_id
    ), body as (
      insert into gw.attempt_response_bodies (attempt_id, response_body)
      select id, ${a.responseBody}::text from attempt where ${a.responseBody}::text is not null
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
 * {@link recordAttempt} with `messageStatus: 'succeeded'` for many attempts in one statement. Endpoints are not
 * touched: only for those with no failure streak or open circuit.
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
    ), attempt as (
      insert into gw.attempts (id, message_id, event_id, endpoint_id, attempt_number, status, response_status,
                               error, duration_ms, attempted_at, next_attempt_at)
      select attempt_id, id, event_id, endpoint_id, attempt_number, 'succeeded', response_status,
             null, duration_ms, attempted_at, null
        from moved
      returning id, message_id
    ), body as (
      insert into gw.attempt_response_bodies (attempt_id, response_body)
      select attempt_id, response_body from moved where response_body is not null
    )
    select message_id as id from attempt`;
  return rows.map((r) => r.id);
}
