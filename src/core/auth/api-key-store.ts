// gw.api_keys (sql/0002, 0080): a merchant's API keys, stored as SHA-256 hashes with a short prefix.
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import type { Permissions } from './permissions.js';
import type { RateLimitTake } from '../rate-limit/rate-limit-store.js';

/** An API key as the API shows it (never the key itself). `permissions` null: a full key. */
export interface ApiKeyRow {
  id: string;
  merchantId: string;
  name: string | null;
  prefix: string;
  permissions: Permissions | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
}

/** The key a bearer token hashes to, with its merchant; `revokedAt` set when revoked. */
export interface ApiKeyAuth extends ApiKeyRow {
  merchantName: string;
  revokedAt: Date | null;
}

const COLUMNS = 'k.id, k.merchant_id, k.name, k.prefix, k.permissions, k.created_at, k.last_used_at, k.expires_at';

type Row = {
  id: string;
  merchant_id: string;
  name: string | null;
  prefix: string;
  permissions: Permissions | null;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
};

function toKey(r: Row): ApiKeyRow {
  return {
    id: r.id,
    merchantId: r.merchant_id,
    name: r.name,
    prefix: r.prefix,
    permissions: r.permissions,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
  };
}

/** Inserts a key for `merchantId` (its hash and prefix only); `permissions` null makes a full key. */
export async function insertApiKey(
  tx: Tx,
  input: {
    merchantId: string;
    name: string | null;
    permissions: Permissions | null;
    expiresAt: Date | null;
    keyHash: string;
    prefix: string;
    now: Date;
  },
): Promise<ApiKeyRow> {
  const [row] = await tx<Row[]>`
    insert into gw.api_keys as k (id, merchant_id, key_hash, prefix, name, permissions, expires_at, created_at)
    values (${newId('key', input.now)}, ${input.merchantId}, ${input.keyHash}, ${input.prefix}, ${input.name},
            ${input.permissions === null ? null : tx.json(input.permissions)}, ${input.expiresAt}, ${input.now})
    returning ${tx.unsafe(COLUMNS)}`;
  return toKey(row!);
}

/** The key whose hash is `keyHash` (revoked or not), with its merchant's name; undefined when there is none. */
export async function findApiKeyByHash(tx: Tx, keyHash: string): Promise<ApiKeyAuth | undefined> {
  const [row] = await tx<(Row & { merchant_name: string; revoked_at: Date | null })[]>`
    select ${tx.unsafe(COLUMNS)}, k.revoked_at, m.name as merchant_name
      from gw.api_keys k
      join gw.merchants m on m.id = k.merchant_id
     where k.key_hash = ${keyHash}`;
  return row ? { ...toKey(row), merchantName: row.merchant_name, revokedAt: row.revoked_at } : undefined;
}

/**
 * One statement for a `/v1` request's bearer token: takes one unit of its rate limit (`gw.rate_limit_take` on
 * `api:<keyHash>`, `perSecond` on average with bursts of `burst`; sql/0085) and reads the key whose hash is `keyHash`
 * as {@link findApiKeyByHash} does. The take happens whether or not such a key exists (an unknown token is limited
 * too). Throws the database's error.
 */
export async function takeRateLimitAndFindApiKey(
  tx: Tx,
  keyHash: string,
  now: Date,
  perSecond: number,
  burst: number,
): Promise<{ key: ApiKeyAuth | undefined; take: RateLimitTake }> {
  // The key's columns are null when no key has this hash (the left join).
  const [row] = await tx<
    ({ [K in keyof Row]: Row[K] | null } & {
      merchant_name: string | null;
      revoked_at: Date | null;
      allowed: boolean;
      remaining: number;
      reset_ms: string;
      retry_after_ms: string;
    })[]
  >`
    select t.allowed, t.remaining, t.reset_ms, t.retry_after_ms,
           ${tx.unsafe(COLUMNS)}, k.revoked_at, m.name as merchant_name
      from gw.rate_limit_take(${`api:${keyHash}`}, ${now}, ${1000 / perSecond}, ${burst}) t
      left join gw.api_keys k on k.key_hash = ${keyHash}
      left join gw.merchants m on m.id = k.merchant_id`;
  if (!row) throw new Error('gw.rate_limit_take returned no row');
  const take: RateLimitTake = {
    allowed: row.allowed,
    remaining: row.remaining,
    resetMs: Number(row.reset_ms),
    retryAfterMs: Number(row.retry_after_ms),
  };
  const key = row.id === null ? undefined : { ...toKey(row as Row), merchantName: row.merchant_name ?? '', revokedAt: row.revoked_at };
  return { key, take };
}

/** Records a use of key `id` at `now` unless one was recorded in the minute before: at most one write a minute per key. */
export async function touchApiKey(tx: Tx, id: string, now: Date): Promise<void> {
  await tx`
    update gw.api_keys set last_used_at = ${now}
     where id = ${id}
       and (last_used_at is null or last_used_at < ${new Date(now.getTime() - 60_000)})`;
}

/** A page of the merchant's unrevoked keys, newest first, after the cursor `startingAfter` (a key id). */
export async function listApiKeys(
  tx: Tx,
  merchantId: string,
  page: { limit: number; startingAfter?: string | undefined },
): Promise<ApiKeyRow[]> {
  const rows = await tx<Row[]>`
    select ${tx.unsafe(COLUMNS)}
      from gw.api_keys k
     where k.merchant_id = ${merchantId}
       and k.revoked_at is null
       ${page.startingAfter === undefined ? tx`` : tx`and k.id < ${page.startingAfter}`}
     order by k.id desc
     limit ${page.limit + 1}`;
  return rows.map(toKey);
}

/** The merchant's unrevoked key `id`, or undefined (unknown, revoked, or another merchant's). */
export async function getApiKey(tx: Tx, merchantId: string, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await tx<Row[]>`
    select ${tx.unsafe(COLUMNS)}
      from gw.api_keys k
     where k.id = ${id} and k.merchant_id = ${merchantId} and k.revoked_at is null`;
  return row ? toKey(row) : undefined;
}

/** Revokes the merchant's key `id` at `now`; false when there is no such unrevoked key. */
export async function revokeApiKey(tx: Tx, merchantId: string, id: string, now: Date): Promise<boolean> {
  const rows = await tx`
    update gw.api_keys set revoked_at = ${now}
     where id = ${id} and merchant_id = ${merchantId} and revoked_at is null
     returning 1`;
  return rows.length === 1;
}

/**
 * Rolls the merchant's unrevoked, unexpired key `id`: a new key (same name, permissions and expiry) is inserted and the
 * old one expires at `oldExpiresAt` (or its own expiry, if sooner). Undefined when there is no such key. The old row is
 * locked first, so two concurrent rolls of one key make two new keys one after the other, never a lost expiry.
 */
export async function rollApiKey(
  tx: Tx,
  input: { merchantId: string; id: string; keyHash: string; prefix: string; oldExpiresAt: Date; now: Date },
): Promise<ApiKeyRow | undefined> {
  const [old] = await tx<Row[]>`
    select ${tx.unsafe(COLUMNS)}
      from gw.api_keys k
     where k.id = ${input.id} and k.merchant_id = ${input.merchantId} and k.revoked_at is null
       and (k.expires_at is null or k.expires_at > ${input.now})
       for update`;
  if (!old) return undefined;
  await tx`
    update gw.api_keys set expires_at = least(coalesce(expires_at, 'infinity'), ${input.oldExpiresAt})
     where id = ${input.id}`;
  return insertApiKey(tx, {
    merchantId: input.merchantId,
    name: old.name,
    permissions: old.permissions,
    expiresAt: old.expires_at,
    keyHash: input.keyHash,
    prefix: input.prefix,
    now: input.now,
  });
}
