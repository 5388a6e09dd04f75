import type { Tx } from '../core/db/client.js';
import { enqueueDelivery } from './messages.js';

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
}

/** The message to deliver with everything its attempt needs, or undefined if there is none. */
export async function loadDelivery(tx: Tx, messageId: string, now: Date): Promise<DeliveryRow | undefined> {
  const [row] = await tx<DeliveryRow[]>`
    select m.id, m.status, m.attempts, m.event_id, m.endpoint_id, e.payload, ep.url, ep.status as endpoint_status,
           ep.merchant_id, ep.consecutive_failures, ep.failing_since, ep.circuit_open_until, ep.rate_limit_per_second,
           ep.max_in_flight,
           array(select s.ciphertext from gw.endpoint_secrets s
                  where s.endpoint_id = ep.id and (s.expires_at is null or s.expires_at > ${now})
                  order by s.id desc) as secret_envelopes
      from gw.messages m
      join gw.events e on e.id = m.event_id
      join gw.endpoints ep on ep.id = m.endpoint_id
     where m.id = ${messageId}`;
  return row;
}

/** Fails a pending message whose endpoint is no longer enabled. */
export async function failMessage(tx: Tx, messageId: string): Promise<void> {
  await tx`update gw.messages set status = 'failed', next_attempt_at = null where id = ${messageId} and status = 'pending'`;
}

/** Puts attempt `attempt` off to `retryAt` without counting it (open circuit, rate limit). */
export async function postponeAttempt(
  tx: Tx,
  input: { messageId: string; endpointId: string; attempt: number; retryAt: Date },
): Promise<void> {
  await tx`update gw.messages set next_attempt_at = ${input.retryAt} where id = ${input.messageId} and status = 'pending'`;
  await enqueueDelivery(tx, { messageId: input.messageId, endpointId: input.endpointId, attempt: input.attempt, runAt: input.retryAt });
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
