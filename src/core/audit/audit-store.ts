// gw.audit_log (sql/0080): one append-only row per mutating request; never a body, header value or secret.
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';

/** Who made a request: an API key (its id and prefix), the admin token, a portal session, or no valid credential. */
export interface AuditActor {
  type: 'api_key' | 'admin' | 'portal_session' | 'anonymous';
  /** `key_…` for an API key; a portal session's public id (see src/app/portal/session.ts); else null. */
  id: string | null;
  /** The API key's first characters (`sk_AbCd`); null for other actors. */
  prefix: string | null;
}

/** One audit row as written and as `GET /v1/audit-log` shows it. */
export interface AuditEntry {
  id: string;
  merchantId: string | null;
  actor: AuditActor;
  /** The OpenAPI operationId (portal: `portal.<method>.<path>`). */
  operation: string;
  method: string;
  /** The request path (ids included, never the query string). */
  path: string;
  objectIds: string[];
  requestId: string;
  clientAddress: string | null;
  userAgent: string | null;
  status: number;
  at: Date;
}

/** Appends one row (in `tx`: the request's own transaction when it committed). */
export async function insertAuditEntry(tx: Tx, e: Omit<AuditEntry, 'id'>): Promise<void> {
  await tx`
    insert into gw.audit_log (id, merchant_id, actor_type, actor_id, actor_prefix, operation, method, path, object_ids,
                              request_id, client_address, user_agent, status, at)
    values (${newId('aud', e.at)}, ${e.merchantId}, ${e.actor.type}, ${e.actor.id}, ${e.actor.prefix}, ${e.operation},
            ${e.method}, ${e.path}, ${e.objectIds}, ${e.requestId}, ${e.clientAddress}, ${e.userAgent}, ${e.status}, ${e.at})`;
}

/** Filters of an audit-log page; all optional. `actor` matches the actor's id, or its type (`admin`). */
export interface AuditQuery {
  merchantId?: string | undefined;
  objectId?: string | undefined;
  operation?: string | undefined;
  actor?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  startingAfter?: string | undefined;
  limit: number;
}

type Row = {
  id: string;
  merchant_id: string | null;
  actor_type: AuditActor['type'];
  actor_id: string | null;
  actor_prefix: string | null;
  operation: string;
  method: string;
  path: string;
  object_ids: string[];
  request_id: string;
  client_address: string | null;
  user_agent: string | null;
  status: number;
  at: Date;
};

/** `limit + 1` rows newest first (ids sort by time), filtered; `merchantId` undefined reads every merchant's (admin). */
export async function listAuditEntries(tx: Tx, q: AuditQuery): Promise<AuditEntry[]> {
  const rows = await tx<Row[]>`
    select *
      from gw.audit_log a
     where true
       ${q.merchantId === undefined ? tx`` : tx`and a.merchant_id = ${q.merchantId}`}
       ${q.objectId === undefined ? tx`` : tx`and a.object_ids @> array[${q.objectId}]::text[]`}
       ${q.operation === undefined ? tx`` : tx`and a.operation = ${q.operation}`}
       ${q.actor === undefined ? tx`` : tx`and (a.actor_id = ${q.actor} or a.actor_type = ${q.actor})`}
       ${q.since === undefined ? tx`` : tx`and a.at >= ${q.since}`}
       ${q.until === undefined ? tx`` : tx`and a.at < ${q.until}`}
       ${q.startingAfter === undefined ? tx`` : tx`and a.id < ${q.startingAfter}`}
     order by a.id desc
     limit ${q.limit + 1}`;
  return rows.map((r) => ({
    id: r.id,
    merchantId: r.merchant_id,
    actor: { type: r.actor_type, id: r.actor_id, prefix: r.actor_prefix },
    operation: r.operation,
    method: r.method,
    path: r.path,
    objectIds: r.object_ids,
    requestId: r.request_id,
    clientAddress: r.client_address,
    userAgent: r.user_agent,
    status: r.status,
    at: r.at,
  }));
}
