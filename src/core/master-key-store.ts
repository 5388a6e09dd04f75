import type { Sql, Tx } from './db/client.js';

/** The sealed check value of gw.master_key_check (sql/0015), or undefined when there is none yet. */
export async function readMasterKeyCheck(tx: Tx): Promise<string | undefined> {
  const [row] = await tx<{ envelope: string }[]>`select envelope from gw.master_key_check`;
  return row?.envelope;
}

/** Stores `envelope` as the check value unless one is there (of processes starting at once, the first wins). */
export async function insertMasterKeyCheck(tx: Tx, envelope: string): Promise<void> {
  await tx`insert into gw.master_key_check (envelope) values (${envelope}) on conflict do nothing`;
}

/** Any one envelope sealed under the master key (source secrets, PSP API keys, endpoint secrets, Ed25519 keys), or undefined. */
export async function anyStoredEnvelope(tx: Tx): Promise<string | undefined> {
  const [row] = await tx<{ envelope: string }[]>`
    (select ciphertext as envelope from gw.source_secrets order by id limit 1)
    union all
    (select api_key_ciphertext from gw.sources where api_key_ciphertext is not null limit 1)
    union all
    (select ciphertext from gw.endpoint_secrets order by id limit 1)
    union all
    (select ed25519_private_envelope from gw.endpoints where ed25519_private_envelope is not null limit 1)
    limit 1`;
  return row?.envelope;
}

/** Replaces the check value where it still is `previous`; true when replaced. */
export async function replaceMasterKeyCheck(tx: Tx, previous: string, next: string): Promise<boolean> {
  const result = await tx`update gw.master_key_check set envelope = ${next} where envelope = ${previous}`;
  return result.count === 1;
}

/** A column holding one SecretBox envelope per row, with the first value of its key column for a keyset walk. */
export interface EnvelopeColumn {
  /** What the progress line calls it. */
  label: string;
  table: string;
  column: string;
  /** A value below every key (keys are compared as the column's type). */
  start: string;
}

/**
 * Every column that holds one SecretBox envelope per row and a text or bigint `id`. `gw.endpoints.headers` and `.auth`
 * hold theirs inside JSON ({@link staleReceiverBatch}); `gw.master_key_check` has its one row ({@link replaceMasterKeyCheck}). A column added later that stores an envelope belongs here too.
 */
export const ENVELOPE_COLUMNS: readonly EnvelopeColumn[] = [
  { label: 'source secrets', table: 'gw.source_secrets', column: 'ciphertext', start: '0' },
  { label: 'source API keys', table: 'gw.sources', column: 'api_key_ciphertext', start: '' },
  { label: 'source report credentials', table: 'gw.sources', column: 'report_credentials_ciphertext', start: '' },
  { label: 'endpoint secrets', table: 'gw.endpoint_secrets', column: 'ciphertext', start: '0' },
  { label: 'endpoint Ed25519 keys', table: 'gw.endpoints', column: 'ed25519_private_envelope', start: '' },
];

/** How many envelopes of `c` were not sealed under key `keyId` (`v2.<keyId>.` prefix). */
export async function countStaleEnvelopes(tx: Tx, c: EnvelopeColumn, keyId: string): Promise<number> {
  const prefix = `v2.${keyId}.`;
  const [row] = await tx<{ n: string }[]>`
    select count(*) as n from ${tx(c.table)}
     where ${tx(c.column)} is not null and left(${tx(c.column)}, ${prefix.length}) <> ${prefix}`;
  return Number(row?.n ?? 0);
}

/** Up to `limit` rows of `c` after key `after` (in key order) whose envelope was not sealed under `keyId`. */
export async function staleEnvelopeBatch(
  tx: Tx,
  c: EnvelopeColumn,
  keyId: string,
  after: string,
  limit: number,
): Promise<{ id: string; envelope: string }[]> {
  const prefix = `v2.${keyId}.`;
  return tx<{ id: string; envelope: string }[]>`
    select id::text as id, ${tx(c.column)} as envelope from ${tx(c.table)}
     where id > ${after} and ${tx(c.column)} is not null and left(${tx(c.column)}, ${prefix.length}) <> ${prefix}
     order by id
     limit ${limit}`;
}

/** Replaces each row's envelope of `c` with `next` where it still is `previous` (a concurrent change wins), in one transaction; how many were replaced. */
export async function replaceEnvelopes(
  sql: Sql,
  c: EnvelopeColumn,
  rows: readonly { id: string; previous: string; next: string }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const results = await sql.begin((tx) =>
    Promise.all(
      rows.map((r) => tx`update ${tx(c.table)} set ${tx(c.column)} = ${r.next} where id = ${r.id} and ${tx(c.column)} = ${r.previous}`),
    ),
  );
  return results.reduce((n, r) => n + r.count, 0);
}

/** How many envelopes inside `gw.endpoints.headers` (secret header values) and `.auth` were not sealed under `keyId`. */
export async function countStaleReceiverEnvelopes(tx: Tx, keyId: string): Promise<number> {
  const prefix = `v2.${keyId}.`;
  const [row] = await tx<{ n: string }[]>`
    select (select count(*) from gw.endpoints e, jsonb_array_elements(e.headers) h
             where h ? 'envelope' and left(h ->> 'envelope', ${prefix.length}) <> ${prefix})
         + (select count(*) from gw.endpoints e, jsonb_each_text(e.auth) a
             where jsonb_typeof(e.auth) = 'object' and a.key like '%Envelope' and left(a.value, ${prefix.length}) <> ${prefix}) as n`;
  return Number(row?.n ?? 0);
}

/** Up to `limit` endpoints after id `after` with secret headers or auth (their stored JSON as is), in id order. */
export async function staleReceiverBatch(
  tx: Tx,
  after: string,
  limit: number,
): Promise<{ id: string; headers: unknown[]; auth: Record<string, unknown> | null }[]> {
  return tx<{ id: string; headers: unknown[]; auth: Record<string, unknown> | null }[]>`
    select id, headers, auth from gw.endpoints
     where id > ${after} and (auth is not null or headers @? '$[*].envelope')
     order by id
     limit ${limit}`;
}

/** Replaces an endpoint's headers and auth where they still are `previous` (a concurrent change wins); true when replaced. */
export async function replaceReceiverEnvelopes(
  tx: Tx,
  id: string,
  previous: { headers: unknown[]; auth: Record<string, unknown> | null },
  next: { headers: unknown[]; auth: Record<string, unknown> | null },
): Promise<boolean> {
  const result = await tx`
    update gw.endpoints
       set headers = ${tx.json(next.headers as never)}, auth = ${next.auth === null ? null : tx.json(next.auth as never)}
     where id = ${id}
       and headers = ${tx.json(previous.headers as never)}
       and auth is not distinct from ${previous.auth === null ? null : tx.json(previous.auth as never)}`;
  return result.count === 1;
}
