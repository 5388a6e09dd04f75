import type postgres from 'postgres';
import type { Sql, Tx } from '../../core/db/client.js';

/** One idempotency key row (sql/0011_payments_api.sql). */
export interface IdempotencyKeyRow {
  id: string;
  merchantId: string;
  key: string;
  requestMethod: string;
  requestPath: string;
  requestFingerprint: string;
  requestParams: unknown;
  status: 'in_progress' | 'finished';
  recoveryPoint: string;
  lockedAt: Date | null;
  operationId: string | null;
  responseStatus: number | null;
  responseBody: string | null;
  createdAt: Date;
  expiresAt: Date;
}

interface DbRow {
  id: string;
  merchant_id: string;
  idempotency_key: string;
  request_method: string;
  request_path: string;
  request_fingerprint: string;
  request_params: unknown;
  status: 'in_progress' | 'finished';
  recovery_point: string;
  locked_at: Date | null;
  operation_id: string | null;
  response_status: number | null;
  response_body: string | null;
  created_at: Date;
  expires_at: Date;
}

const toRow = (r: DbRow): IdempotencyKeyRow => ({
  id: String(r.id),
  merchantId: r.merchant_id,
  key: r.idempotency_key,
  requestMethod: r.request_method,
  requestPath: r.request_path,
  requestFingerprint: r.request_fingerprint,
  requestParams: r.request_params,
  status: r.status,
  recoveryPoint: r.recovery_point,
  lockedAt: r.locked_at,
  operationId: r.operation_id,
  responseStatus: r.response_status,
  responseBody: r.response_body,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/**
 * Inserts the key for (merchant, key) unless it exists, then reads the row `for update`;
 * concurrent first requests serialize on the unique index. Returns the row and whether this
 * call inserted it (then locked at `now`).
 */
export async function insertOrLockKey(
  tx: Tx,
  input: {
    merchantId: string;
    key: string;
    method: string;
    path: string;
    fingerprint: string;
    params: unknown;
    now: Date;
    expiresAt: Date;
  },
): Promise<{ row: IdempotencyKeyRow; inserted: boolean }> {
  const inserted = await tx<{ id: string }[]>`
    insert into gw.idempotency_keys (merchant_id, idempotency_key, request_method, request_path, request_fingerprint,
                                     request_params, locked_at, created_at, expires_at)
    values (${input.merchantId}, ${input.key}, ${input.method}, ${input.path}, ${input.fingerprint},
            ${tx.json(input.params as postgres.JSONValue)}, ${input.now}, ${input.now}, ${input.expiresAt})
    on conflict (merchant_id, idempotency_key) do nothing
    returning id`;
  const [row] = await tx<DbRow[]>`
    select * from gw.idempotency_keys
     where merchant_id = ${input.merchantId} and idempotency_key = ${input.key}
       for update`;
  return { row: toRow(row!), inserted: inserted.length > 0 };
}

/** Deletes one key row (an expired one being reused). */
export async function deleteKey(tx: Tx, id: string): Promise<void> {
  await tx`delete from gw.idempotency_keys where id = ${id}`;
}

/** Takes the lock of an unfinished key whose previous holder is gone: sets `locked_at`. */
export async function lockKey(tx: Tx, id: string, now: Date): Promise<void> {
  await tx`update gw.idempotency_keys set locked_at = ${now} where id = ${id}`;
}

/**
 * The key row locked `for update` if `lockedAt` is still the lock this request holds;
 * undefined when another request took the key over (its lock had grown stale).
 */
export async function lockOwnedKey(tx: Tx, id: string, lockedAt: Date): Promise<IdempotencyKeyRow | undefined> {
  const [row] = await tx<DbRow[]>`
    select * from gw.idempotency_keys
     where id = ${id} and locked_at = ${lockedAt} and status = 'in_progress'
       for update`;
  return row && toRow(row);
}

/** Moves the key to the next recovery point (and records the operation it created). */
export async function setRecoveryPoint(tx: Tx, id: string, point: string, operationId?: string): Promise<void> {
  await tx`
    update gw.idempotency_keys
       set recovery_point = ${point},
           operation_id = coalesce(${operationId ?? null}, operation_id)
     where id = ${id}`;
}

/** Stores the response and finishes the key: it replays from now on. */
export async function finishKey(tx: Tx, id: string, response: { status: number; body: string }): Promise<void> {
  await tx`
    update gw.idempotency_keys
       set status = 'finished', recovery_point = 'finished', locked_at = null,
           response_status = ${response.status}, response_body = ${response.body}
     where id = ${id}`;
}

/**
 * Releases the lock of an unfinished key after an error, so a retry may resume at once
 * rather than after the stale-lock timeout. Only if this request still holds it.
 */
export async function releaseKey(sql: Tx, id: string, lockedAt: Date): Promise<void> {
  await sql`update gw.idempotency_keys set locked_at = null where id = ${id} and locked_at = ${lockedAt} and status = 'in_progress'`;
}

/**
 * Deletes up to `batch` keys that expired at or before `now`; returns how many. Called by
 * the purge cron task until it returns less than `batch`.
 */
export async function deleteExpiredKeys(sql: Sql, now: Date, batch = 1000): Promise<number> {
  const rows = await sql`
    delete from gw.idempotency_keys
     where id in (select id from gw.idempotency_keys where expires_at <= ${now} order by expires_at limit ${batch})
    returning id`;
  return rows.length;
}
