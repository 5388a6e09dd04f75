// The portal's own tables (sql/0070_portal.sql) and the reads the API has no route for: the overview's
// per-minute deliveries and endpoint health, and the event search by payment, endpoint, status and time.
import type { Tx } from '../../core/db/client.js';

/** What a portal session may do; `read` is every page, the others the actions (README "The portal"). */
export type Capability = 'read' | 'manage_endpoints' | 'replay' | 'reviews';

/** A live portal session: its merchant and capabilities; `expiresAt` ends it. */
export interface PortalSession {
  merchantId: string;
  merchantName: string;
  capabilities: Capability[];
  expiresAt: Date;
}

/**
 * Stores a one-time portal link (`kind: 'link'`) or a browser session under the SHA-256 hex of its token. `apiKeyId` is
 * the API key that logged in or made the link: the session ends when that key is revoked or expires ({@link findSession}).
 */
export async function insertPortalSession(
  tx: Tx,
  input: {
    tokenHash: string;
    kind: 'link' | 'session';
    merchantId: string;
    capabilities: Capability[];
    createdAt: Date;
    expiresAt: Date;
    apiKeyId: string | null;
  },
): Promise<void> {
  await tx`
    insert into gw.portal_sessions (token_hash, kind, merchant_id, capabilities, created_at, expires_at, api_key_id)
    values (${input.tokenHash}, ${input.kind}, ${input.merchantId}, ${input.capabilities}, ${input.createdAt}, ${input.expiresAt},
            ${input.apiKeyId})`;
}

/** Deletes links and sessions that expired before `before` (they open nothing); how many. */
export async function deleteExpiredPortalSessions(tx: Tx, before: Date): Promise<number> {
  const rows = await tx`delete from gw.portal_sessions where expires_at < ${before} returning 1`;
  return rows.length;
}

/** What a link or session's API key must be at `now` for it to open anything: not revoked, not expired (or no key). */
function keyStillValid(tx: Tx, now: Date) {
  return tx`(s.api_key_id is null
             or exists (select 1 from gw.api_keys k
                         where k.id = s.api_key_id and k.revoked_at is null
                           and (k.expires_at is null or k.expires_at > ${now})))`;
}

/**
 * Marks the unexpired, unused link with this token hash used at `now` and returns its merchant, capabilities, expiry
 * and the API key that made it; undefined when there is none (unknown, used before, expired, or its key revoked or
 * expired): a link works once.
 */
export async function useLink(
  tx: Tx,
  tokenHash: string,
  now: Date,
): Promise<{ merchantId: string; capabilities: Capability[]; expiresAt: Date; apiKeyId: string | null } | undefined> {
  const [row] = await tx<{ merchantId: string; capabilities: Capability[]; expiresAt: Date; apiKeyId: string | null }[]>`
    update gw.portal_sessions s set used_at = ${now}
     where s.token_hash = ${tokenHash} and s.kind = 'link' and s.used_at is null and s.expires_at > ${now}
       and ${keyStillValid(tx, now)}
     returning s.merchant_id as "merchantId", s.capabilities, s.expires_at as "expiresAt", s.api_key_id as "apiKeyId"`;
  return row;
}

/**
 * The live session with this token hash, or undefined: not ended, not expired at `now`, and the API key that opened
 * it (if any) neither revoked nor expired at `now`. Read on every request, so revoking the key ends its sessions at once.
 */
export async function findSession(tx: Tx, tokenHash: string, now: Date): Promise<PortalSession | undefined> {
  const [row] = await tx<PortalSession[]>`
    select s.merchant_id as "merchantId", m.name as "merchantName", s.capabilities, s.expires_at as "expiresAt"
      from gw.portal_sessions s
      join gw.merchants m on m.id = s.merchant_id
     where s.token_hash = ${tokenHash} and s.kind = 'session' and s.ended_at is null and s.expires_at > ${now}
       and ${keyStillValid(tx, now)}`;
  return row;
}

/** Ends the session with this token hash at `now` (logout); a no-op when it has ended already. */
export async function endSession(tx: Tx, tokenHash: string, now: Date): Promise<void> {
  await tx`update gw.portal_sessions set ended_at = ${now} where token_hash = ${tokenHash} and kind = 'session' and ended_at is null`;
}

/**
 * Failed logins from `clientAddress` since `since`: how many, and the oldest one's time (for Retry-After).
 */
export async function recentLoginFailures(tx: Tx, clientAddress: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
  const [row] = await tx<{ count: number; oldest: Date | null }[]>`
    select count(*)::int as count, min(at) as oldest
      from gw.portal_login_failures
     where client_address = ${clientAddress} and at > ${since}`;
  return row!;
}

/** Records one failed login from `clientAddress` at `now`, and drops this address's rows older than `forgetBefore`. */
export async function recordLoginFailure(tx: Tx, clientAddress: string, now: Date, forgetBefore: Date): Promise<void> {
  await tx`delete from gw.portal_login_failures where client_address = ${clientAddress} and at < ${forgetBefore}`;
  await tx`insert into gw.portal_login_failures (client_address, at) values (${clientAddress}, ${now})`;
}

/** Deletes failed logins recorded before `before` (of every address); how many. */
export async function deleteOldLoginFailures(tx: Tx, before: Date): Promise<number> {
  const rows = await tx`delete from gw.portal_login_failures where at < ${before} returning 1`;
  return rows.length;
}

/** One minute of the overview chart: attempts started in it, and how many succeeded. */
export interface MinuteDeliveries {
  minute: Date;
  attempts: number;
  succeeded: number;
}

/** The merchant's delivery attempts per minute in [`since`, now), oldest first; minutes without attempts are absent. */
export async function deliveriesPerMinute(tx: Tx, merchantId: string, since: Date): Promise<MinuteDeliveries[]> {
  return tx<MinuteDeliveries[]>`
    select date_trunc('minute', a.attempted_at) as minute,
           count(*)::int as attempts,
           (count(*) filter (where a.status = 'succeeded'))::int as succeeded
      from gw.attempts a
      join gw.endpoints e on e.id = a.endpoint_id
     where e.merchant_id = ${merchantId} and a.attempted_at >= ${since}
     group by 1
     order by 1`;
}

/** An endpoint's health as the overview shows it; rates and latency over the attempts since the given time. */
export interface EndpointHealth {
  id: string;
  url: string;
  status: 'enabled' | 'disabled';
  disabledReason: string | null;
  /** The circuit is open (attempts are held) until this time, or null (closed). */
  circuitOpenUntil: Date | null;
  consecutiveFailures: number;
  /** The newest failed attempt's error, or its response status as `HTTP 500`; null when none failed. */
  lastError: string | null;
  attempts: number;
  succeeded: number;
  /** 95th percentile of attempt duration, ms; null without attempts. */
  p95Ms: number | null;
}

/** Health at `now` of each of the merchant's endpoints that is not deleted, newest endpoint first, over attempts since `since`. */
export async function endpointHealth(tx: Tx, merchantId: string, since: Date, now: Date): Promise<EndpointHealth[]> {
  return tx<EndpointHealth[]>`
    select e.id, e.url, e.status, e.disabled_reason as "disabledReason",
           case when e.circuit_open_until > ${now} then e.circuit_open_until end as "circuitOpenUntil",
           e.consecutive_failures as "consecutiveFailures",
           (select coalesce(f.error, 'HTTP ' || f.response_status)
              from gw.attempts f
             where f.endpoint_id = e.id and f.status = 'failed'
             order by f.attempted_at desc limit 1) as "lastError",
           coalesce(s.attempts, 0)::int as attempts,
           coalesce(s.succeeded, 0)::int as succeeded,
           s.p95 as "p95Ms"
      from gw.endpoints e
      left join lateral (
        select count(*) as attempts,
               count(*) filter (where a.status = 'succeeded') as succeeded,
               round(percentile_cont(0.95) within group (order by a.duration_ms))::int as p95
          from gw.attempts a
         where a.endpoint_id = e.id and a.attempted_at >= ${since}
      ) s on true
     where e.merchant_id = ${merchantId} and e.status <> 'deleted'
     order by e.id desc`;
}

/** Messages of the merchant still waiting to be delivered (pending). */
export async function countWaitingMessages(tx: Tx, merchantId: string): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    select count(*)::int as n from gw.messages where merchant_id = ${merchantId} and status = 'pending'`;
  return row!.n;
}

/** The merchant's inbound events counted by provider and status. */
export async function inboundByProvider(tx: Tx, merchantId: string): Promise<{ provider: string; status: string; count: number }[]> {
  return tx<{ provider: string; status: string; count: number }[]>`
    select s.provider, i.status, count(*)::int as count
      from gw.inbound_events i
      join gw.sources s on s.id = i.source_id
     where i.merchant_id = ${merchantId}
     group by s.provider, i.status
     order by s.provider, i.status`;
}

/** The portal's event search; every filter optional, combined with and. */
export interface EventSearch {
  limit: number;
  startingAfter?: string;
  type?: string;
  paymentId?: string;
  /** Events with a message to this endpoint. */
  endpointId?: string;
  /** Events with a message in this status (`pending`, `succeeded`, `failed`). */
  status?: 'pending' | 'succeeded' | 'failed';
  /** Created at or after. */
  from?: Date;
  /** Created before. */
  to?: Date;
}

/** The merchant's events matching `q`, newest first, without payloads; `limit + 1` rows (see toPage). */
export async function searchEvents(
  tx: Tx,
  merchantId: string,
  q: EventSearch,
): Promise<{ id: string; type: string; paymentId: string | null; createdAt: Date }[]> {
  const messageFilter =
    q.endpointId || q.status
      ? tx`and exists (select 1 from gw.messages m
                        where m.event_id = ev.id
                          ${q.endpointId ? tx`and m.endpoint_id = ${q.endpointId}` : tx``}
                          ${q.status ? tx`and m.status = ${q.status}` : tx``})`
      : tx``;
  return tx<{ id: string; type: string; paymentId: string | null; createdAt: Date }[]>`
    select ev.id, ev.type, ev.payment_id as "paymentId", ev.created_at as "createdAt"
      from gw.events ev
     where ev.merchant_id = ${merchantId}
       ${q.startingAfter ? tx`and ev.id < ${q.startingAfter}` : tx``}
       ${q.type ? tx`and ev.type = ${q.type}` : tx``}
       ${q.paymentId ? tx`and ev.payment_id = ${q.paymentId}` : tx``}
       ${q.from ? tx`and ev.created_at >= ${q.from}` : tx``}
       ${q.to ? tx`and ev.created_at < ${q.to}` : tx``}
       ${messageFilter}
     order by ev.id desc
     limit ${q.limit + 1}`;
}

/** The event's messages with their endpoint, status and next attempt: what "Replay to one endpoint" offers. */
export async function eventMessages(
  tx: Tx,
  eventId: string,
): Promise<{ id: string; endpointId: string; url: string; status: string; attempts: number; nextAttemptAt: Date | null }[]> {
  return tx<{ id: string; endpointId: string; url: string; status: string; attempts: number; nextAttemptAt: Date | null }[]>`
    select m.id, m.endpoint_id as "endpointId", e.url, m.status, m.attempts, m.next_attempt_at as "nextAttemptAt"
      from gw.messages m
      join gw.endpoints e on e.id = m.endpoint_id
     where m.event_id = ${eventId}
     order by m.id`;
}
