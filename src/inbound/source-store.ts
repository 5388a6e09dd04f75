import type { Tx } from '../core/db/client.js';
import { newId } from '../core/ids.js';
import { enqueueJob } from '../core/jobs/enqueue.js';

/** A source row as the API shows it (no secrets). */
export interface SourceRow {
  id: string;
  merchantId: string;
  provider: string;
  name: string | null;
  toleranceSeconds: number;
  /** The URL the PSP signs with the body (Square), exactly as entered at the PSP; null for other providers. */
  notificationUrl: string | null;
  createdAt: Date;
}

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
  created_at: Date;
}

const toSource = (r: SourceDbRow): SourceRow => ({
  id: r.id,
  merchantId: r.merchant_id,
  provider: r.provider,
  name: r.name,
  toleranceSeconds: r.tolerance_seconds,
  notificationUrl: r.notification_url,
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
  },
): Promise<SourceRow> {
  const [row] = await tx<SourceDbRow[]>`
    insert into gw.sources (id, merchant_id, provider, name, tolerance_seconds, notification_url)
    values (${newId('src')}, ${input.merchantId}, ${input.provider}, ${input.name}, ${input.toleranceSeconds},
            ${input.notificationUrl ?? null})
    returning id, merchant_id, provider, name, tolerance_seconds, notification_url, created_at`;
  await tx`insert into gw.source_secrets (source_id, ciphertext) values (${row!.id}, ${input.secretEnvelope})`;
  return toSource(row!);
}

/** One of the merchant's sources, or undefined (another merchant's is undefined too). */
export async function getSource(tx: Tx, merchantId: string, id: string): Promise<SourceRow | undefined> {
  const [row] = await tx<SourceDbRow[]>`
    select id, merchant_id, provider, name, tolerance_seconds, notification_url, created_at
      from gw.sources
     where id = ${id} and merchant_id = ${merchantId}`;
  return row && toSource(row);
}

/** The merchant's sources, newest first, `limit + 1` rows (see toPage). */
export async function listSources(tx: Tx, merchantId: string, limit: number, startingAfter?: string): Promise<SourceRow[]> {
  const rows = await tx<SourceDbRow[]>`
    select id, merchant_id, provider, name, tolerance_seconds, notification_url, created_at
      from gw.sources
     where merchant_id = ${merchantId}
       ${startingAfter ? tx`and id < ${startingAfter}` : tx``}
     order by id desc
     limit ${limit + 1}`;
  return rows.map(toSource);
}

/** The source an inbound request names, with its unexpired secrets; undefined if there is none. */
export async function loadInboundSource(tx: Tx, id: string, now: Date): Promise<InboundSource | undefined> {
  const rows = await tx<(SourceDbRow & { ciphertext: string | null })[]>`
    select s.id, s.merchant_id, s.provider, s.name, s.tolerance_seconds, s.notification_url, s.created_at, k.ciphertext
      from gw.sources s
      left join gw.source_secrets k
        on k.source_id = s.id and (k.expires_at is null or k.expires_at > ${now})
     where s.id = ${id}
     order by k.id desc`;
  const first = rows[0];
  if (!first) return undefined;
  return { ...toSource(first), secretEnvelopes: rows.flatMap((r) => (r.ciphertext ? [r.ciphertext] : [])) };
}

/**
 * Records a verified inbound event and queues its processing in one transaction:
 * `insert … on conflict (source_id, event_id) do nothing`, and `add_job` only for a new
 * row. Returns the stored row's id and whether it was already there (then nothing is
 * queued again). The caller commits before it acks.
 */
export async function recordInboundEvent(
  tx: Tx,
  input: {
    sourceId: string;
    merchantId: string;
    eventId: string;
    eventType: string | null;
    rawBody: Uint8Array;
    headers: Record<string, string>;
  },
): Promise<{ id: string; duplicate: boolean }> {
  const id = newId('iev');
  const inserted = await tx<{ id: string }[]>`
    insert into gw.inbound_events (id, source_id, merchant_id, event_id, event_type, raw_body, headers)
    values (${id}, ${input.sourceId}, ${input.merchantId}, ${input.eventId}, ${input.eventType},
            ${input.rawBody}, ${tx.json(input.headers)})
    on conflict (source_id, event_id) do nothing
    returning id`;
  if (inserted.length === 0) {
    const [existing] = await tx<{ id: string }[]>`
      select id from gw.inbound_events where source_id = ${input.sourceId} and event_id = ${input.eventId}`;
    return { id: existing!.id, duplicate: true };
  }
  await enqueueJob(tx, 'process_inbound_event', { inboundEventId: id }, { jobKey: `inbound:${id}` });
  return { id, duplicate: false };
}
