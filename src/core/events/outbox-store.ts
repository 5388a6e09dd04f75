import type { Tx } from '../db/client.js';
import { toBase64 } from '../crypto.js';

/** One `gw.events` row to insert; `body` is stored as these exact bytes. */
interface NewEventRow {
  id: string;
  merchantId: string;
  type: string;
  paymentId: string | null;
  dedupeKey: string;
  body: Uint8Array;
  at: Date;
}

/** Inserts events in one statement, in id order, skipping a taken (merchant, dedupeKey), also by an earlier row; returns ids inserted. */
export async function insertEvents(tx: Tx, events: readonly NewEventRow[]): Promise<Set<string>> {
  const rows = events.map((e) => ({
    id: e.id,
    merchantId: e.merchantId,
    type: e.type,
    paymentId: e.paymentId,
    dedupeKey: e.dedupeKey,
    // base64 in the JSON document: the bytes stored are exactly these (no text conversion)
    payload: toBase64(e.body),
    at: e.at.toISOString(),
  }));
  const inserted = await tx<{ id: string }[]>`
    with e as (
      select * from json_to_recordset(${tx.json(rows)}::json)
               as e(id text, "merchantId" text, type text, "paymentId" text, "dedupeKey" text, payload text, at timestamptz)
    ), ins as (
      insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, created_at)
      select e.id, e."merchantId", e.type, e."paymentId", e."dedupeKey", e.at
        from e
       order by e.id
      on conflict (merchant_id, dedupe_key) do nothing
      returning id
    ), body as (
      -- the bytes go to the month partition of the id (sql/0025_retention.sql)
      insert into gw.event_payloads (event_id, payload)
      select ins.id, decode(e.payload, 'base64')
        from ins join e on e.id = ins.id
    )
    select id from ins`;
  return new Set(inserted.map((r) => r.id));
}

/** An enabled endpoint that events may be emitted to. */
interface EmitTarget {
  id: string;
  merchant_id: string;
  ordered: boolean;
  event_types: string[] | null;
  /** When its circuit is open or it is held past the time asked about: the later of the two; else null. */
  hold_until: Date | null;
  /** Its payload filter (CEL, src/core/events/event-filter.ts), or null: every event of its types. */
  filter: string | null;
  filter_version: number;
}

/** The enabled endpoints of `merchantIds`, in id order, with their holds as of `at`. */
export async function listEmitTargets(tx: Tx, merchantIds: readonly string[], at: Date): Promise<EmitTarget[]> {
  return tx<EmitTarget[]>`
    select id, merchant_id, ordered, event_types, filter, filter_version,
           case when greatest(circuit_open_until, held_until) > ${at} then greatest(circuit_open_until, held_until) end as hold_until
      from gw.endpoints
     where merchant_id = any(${merchantIds as string[]}::text[]) and status = 'enabled'
     order by id`;
}

/** One `gw.messages` row to insert. */
export interface NewMessageRow {
  id: string;
  eventId: string;
  endpointId: string;
  merchantId: string;
  nextAttemptAt: Date;
  /** The event's payment when the endpoint is `ordered`, else null. */
  orderedPaymentId: string | null;
}

/** Inserts messages in one statement. */
export async function insertMessages(tx: Tx, messages: readonly NewMessageRow[]): Promise<void> {
  const rows = messages.map((m) => ({
    id: m.id,
    eventId: m.eventId,
    endpointId: m.endpointId,
    merchantId: m.merchantId,
    at: m.nextAttemptAt.toISOString(),
    orderedPaymentId: m.orderedPaymentId,
  }));
  await tx`
    insert into gw.messages (id, event_id, endpoint_id, merchant_id, next_attempt_at, ordered_payment_id)
    select m.id, m."eventId", m."endpointId", m."merchantId", m.at, m."orderedPaymentId"
      from json_to_recordset(${tx.json(rows)}::json)
             as m(id text, "eventId" text, "endpointId" text, "merchantId" text, at timestamptz, "orderedPaymentId" text)`;
}
