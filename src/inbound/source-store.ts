import type { Tx } from '../core/db/client.js';
import { newId } from '../core/ids.js';

/** A source row as the API shows it (no secrets). */
export interface SourceRow {
  id: string;
  merchantId: string;
  provider: string;
  name: string | null;
  toleranceSeconds: number;
  /** The URL the PSP signs with the body (Square), exactly as entered at the PSP; null for other providers. */
  notificationUrl: string | null;
  /** README "Verify or fetch": `signature` applies the verified payload, `fetch` the object read back from the PSP. */
  trust: SourceTrust;
  createdAt: Date;
}

/** How processing trusts a source's events (README "Verify or fetch"). */
export type SourceTrust = 'signature' | 'fetch';

/** What the inbound route needs: the source and the envelopes of its active secrets. */
export interface InboundSource extends SourceRow {
  secretEnvelopes: string[];
}

interface SourceDbRow {
  id: string;
  merchant_id: string;
  provider: string;
  name: string | null;
  tolerance_seconds: number;
  notification_url: string | null;
  trust: SourceTrust;
  created_at: Date;
}

const toSource = (r: SourceDbRow): SourceRow => ({
  id: r.id,
  merchantId: r.merchant_id,
  provider: r.provider,
  name: r.name,
  toleranceSeconds: r.tolerance_seconds,
  notificationUrl: r.notification_url,
  trust: r.trust,
  createdAt: r.created_at,
});

/** Inserts a source with its first signing secret (already encrypted). */
export async function insertSource(
  tx: Tx,
  input: {
    merchantId: string;
    provider: string;
    name: string | null;
    toleranceSeconds: number;
    notificationUrl?: string | null;
    secretEnvelope: string;
    /** PSP API credentials for the payments API connectors (the key already encrypted). */
    apiKeyEnvelope?: string | null;
    apiBaseUrl?: string | null;
    merchantAccount?: string | null;
    /** Default `signature`; `fetch` needs `apiKeyEnvelope` (a check constraint). */
    trust?: SourceTrust;
  },
): Promise<SourceRow> {
  const [row] = await tx<SourceDbRow[]>`
    insert into gw.sources (id, merchant_id, provider, name, tolerance_seconds, notification_url,
                            api_key_ciphertext, api_base_url, psp_merchant_account, trust)
    values (${newId('src')}, ${input.merchantId}, ${input.provider}, ${input.name}, ${input.toleranceSeconds},
            ${input.notificationUrl ?? null}, ${input.apiKeyEnvelope ?? null}, ${input.apiBaseUrl ?? null},
            ${input.merchantAccount ?? null}, ${input.trust ?? 'signature'})
    returning id, merchant_id, provider, name, tolerance_seconds, notification_url, trust, created_at`;
  await tx`insert into gw.source_secrets (source_id, ciphertext) values (${row!.id}, ${input.secretEnvelope})`;
  return toSource(row!);
}

/** One of the merchant's sources, or undefined (another merchant's is undefined too). */
export async function getSource(tx: Tx, merchantId: string, id: string): Promise<SourceRow | undefined> {
  const [row] = await tx<SourceDbRow[]>`
    select id, merchant_id, provider, name, tolerance_seconds, notification_url, trust, created_at
      from gw.sources
     where id = ${id} and merchant_id = ${merchantId}`;
  return row && toSource(row);
}

/** The merchant's sources, newest first, `limit + 1` rows (see toPage). */
export async function listSources(tx: Tx, merchantId: string, limit: number, startingAfter?: string): Promise<SourceRow[]> {
  const rows = await tx<SourceDbRow[]>`
    select id, merchant_id, provider, name, tolerance_seconds, notification_url, trust, created_at
      from gw.sources
     where merchant_id = ${merchantId}
       ${startingAfter ? tx`and id < ${startingAfter}` : tx``}
     order by id desc
     limit ${limit + 1}`;
  return rows.map(toSource);
}

/** One of the merchant's sources, locked `for update` until the caller's transaction ends; undefined if there is none. */
export async function lockSource(tx: Tx, merchantId: string, id: string): Promise<SourceRow | undefined> {
  const [row] = await tx<SourceDbRow[]>`
    select id, merchant_id, provider, name, tolerance_seconds, notification_url, trust, created_at
      from gw.sources
     where id = ${id} and merchant_id = ${merchantId}
       for update`;
  return row && toSource(row);
}

/**
 * Sets the source's `trust` and/or API key (already encrypted) in the caller's transaction (after
 * {@link lockSource}); what is undefined is left as it is. Returns the source. Throws the check violation
 * (sources_fetch_needs_api_key) for `fetch` without a key.
 */
export async function updateSourceSettings(
  tx: Tx,
  sourceId: string,
  input: { trust?: SourceTrust; apiKeyEnvelope?: string },
): Promise<SourceRow> {
  const [row] = await tx<SourceDbRow[]>`
    update gw.sources
       set trust = coalesce(${input.trust ?? null}::text, trust),
           api_key_ciphertext = coalesce(${input.apiKeyEnvelope ?? null}::text, api_key_ciphertext)
     where id = ${sourceId}
    returning id, merchant_id, provider, name, tolerance_seconds, notification_url, trust, created_at`;
  return toSource(row!);
}

/** Whether the source holds a PSP API key (sealed), for `trust: fetch`. */
export async function sourceHasApiKey(tx: Tx, sourceId: string): Promise<boolean> {
  const [row] = await tx<{ has: boolean }[]>`select api_key_ciphertext is not null as has from gw.sources where id = ${sourceId}`;
  return row?.has ?? false;
}

/** A signing secret as the API shows it: when it was added and when it stops verifying (null: never). */
interface SourceSecretInfo {
  createdAt: Date;
  expiresAt: Date | null;
}

/**
 * Rotates a source's secret in the caller's transaction (after {@link lockSource}): secrets
 * verifying past `previousExpiresAt` expire then (`= now` retires them at once), and
 * `secretEnvelope` (encrypted) is added from `now`.
 */
export async function rotateSourceSecret(
  tx: Tx,
  input: { sourceId: string; secretEnvelope: string; now: Date; previousExpiresAt: Date },
): Promise<void> {
  await tx`
    update gw.source_secrets
       set expires_at = ${input.previousExpiresAt}
     where source_id = ${input.sourceId}
       and (expires_at is null or expires_at > ${input.previousExpiresAt})`;
  await tx`
    insert into gw.source_secrets (source_id, ciphertext, created_at)
    values (${input.sourceId}, ${input.secretEnvelope}, ${input.now})`;
}

/** The source's secrets that verify at `now`, newest first (no ciphertext). */
export async function listActiveSourceSecrets(tx: Tx, sourceId: string, now: Date): Promise<SourceSecretInfo[]> {
  const rows = await tx<{ created_at: Date; expires_at: Date | null }[]>`
    select created_at, expires_at
      from gw.source_secrets
     where source_id = ${sourceId}
       and (expires_at is null or expires_at > ${now})
     order by id desc`;
  return rows.map((r) => ({ createdAt: r.created_at, expiresAt: r.expires_at }));
}

/** The source an inbound request names, with its unexpired secrets; undefined if there is none. */
export async function loadInboundSource(tx: Tx, id: string, now: Date): Promise<InboundSource | undefined> {
  const rows = await tx<(SourceDbRow & { ciphertext: string | null })[]>`
    select s.id, s.merchant_id, s.provider, s.name, s.tolerance_seconds, s.notification_url, s.trust, s.created_at, k.ciphertext
      from gw.sources s
      left join gw.source_secrets k
        on k.source_id = s.id and (k.expires_at is null or k.expires_at > ${now})
     where s.id = ${id}
     order by k.id desc`;
  const first = rows[0];
  if (!first) return undefined;
  return { ...toSource(first), secretEnvelopes: rows.flatMap((r) => (r.ciphertext ? [r.ciphertext] : [])) };
}
