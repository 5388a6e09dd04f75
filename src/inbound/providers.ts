import { parseTree, type Node as JsonNode } from 'jsonc-parser';
import type { InboundProvider } from './verifiers/index.js';

/** The PSP's id and type of an event, read after its signature verified. */
interface EventIdentity {
  eventId: string;
  eventType: string | null;
}

/** One event of a verified request; a batch item's `rawBody` is sliced from the body, never re-serialised. */
interface IdentifiedEvent extends EventIdentity {
  rawBody: Uint8Array;
}

type Json = Record<string, unknown>;

function parseJsonObject(body: Uint8Array): { text: string; json: Json } | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    const json = asObject(JSON.parse(text) as unknown);
    return json ? { text, json } : undefined;
  } catch {
    return undefined;
  }
}

const asObject = (v: unknown): Json | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined);

/** A usable event id: a string of 1–255 characters (the column's check). */
const idLike = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : undefined);

/** An id part that may come as a string or a safe integer (Paystack, Mercado Pago ids). */
const idPart = (v: unknown): string | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' && v.length > 0 ? v : undefined;

const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

const encoder = new TextEncoder();

/**
 * The events of a verified request: one for most PSPs, one per item for batching ones.
 * `headerEventId` is the verifier's `eventId`. Undefined when an event has no readable id
 * (400 `event_id_missing`). Event id and type per provider:
 * - stripe, checkout: the body's `id` and `type`; square: `event_id` and `type`.
 * - standard-webhooks: the `webhook-id` header (else the body's `id`), and `type`.
 * - razorpay: the `x-razorpay-event-id` header (else the body's `id`), and `event`.
 * - paystack: sends no event id, so `${event}:${data.id}`, stable across its retries.
 * - mercadopago: the body's `id`, else `${type ?? action}:${data.id}` (`x-request-id` is per
 *   delivery); the type is `action`, else `type`.
 * - gocardless: per element of `events`, its `id` and `${resource_type}.${action}`.
 * - adyen: per NotificationRequestItem, `${pspReference}:${eventCode}:${success}` (Adyen's
 *   dedup key) and `eventCode`.
 *
 * @example
 * const events = identifyEvents('gocardless', body, verified.value.eventId);
 * if (!events) return refuse('event_id_missing', 400, '…');
 */
export function identifyEvents(
  provider: InboundProvider,
  body: Uint8Array,
  headerEventId: string | undefined,
): IdentifiedEvent[] | undefined {
  const parsed = parseJsonObject(body);
  const json = parsed?.json;
  const single = (eventId: string | undefined, eventType: string | null): IdentifiedEvent[] | undefined =>
    eventId ? [{ eventId, eventType, rawBody: body }] : undefined;
  switch (provider) {
    case 'stripe':
    case 'checkout':
      return single(idLike(json?.id), text(json?.type));
    case 'standard-webhooks':
      return single(idLike(headerEventId) ?? idLike(json?.id), text(json?.type));
    case 'razorpay':
      return single(idLike(headerEventId) ?? idLike(json?.id), text(json?.event));
    case 'square':
      return single(idLike(json?.event_id), text(json?.type));
    case 'paystack': {
      const event = text(json?.event);
      const objectId = idPart(asObject(json?.data)?.id);
      return single(event && objectId ? idLike(`${event}:${objectId}`) : undefined, event);
    }
    case 'mercadopago': {
      const kind = text(json?.type) ?? text(json?.action);
      const dataId = idPart(asObject(json?.data)?.id);
      const own = idPart(json?.id);
      const eventId = own ? idLike(own) : kind && dataId ? idLike(`${kind}:${dataId}`) : undefined;
      return single(eventId, text(json?.action) ?? text(json?.type));
    }
    case 'gocardless':
      return batch(parsed, 'events', undefined, (event) => {
        const resource = text(event.resource_type);
        const action = text(event.action);
        return {
          eventId: idLike(event.id),
          eventType: resource && action ? `${resource}.${action}` : action,
        };
      });
    case 'adyen':
      return batch(parsed, 'notificationItems', 'NotificationRequestItem', (entry) => {
        const item = asObject(entry.NotificationRequestItem);
        if (!item) return undefined;
        const psp = idLike(item.pspReference);
        const code = text(item.eventCode);
        const success = typeof item.success === 'boolean' ? String(item.success) : text(item.success);
        return {
          eventId: psp && code && success ? idLike(`${psp}:${code}:${success}`) : undefined,
          eventType: code,
        };
      });
  }
}

/**
 * The events of the top-level array `listKey`, each `rawBody` its element's (or its `itemKey`
 * member's) source text; undefined if any element lacks an id, so a batch is never half stored.
 */
function batch(
  parsed: { text: string; json: Json } | undefined,
  listKey: string,
  itemKey: string | undefined,
  read: (element: Json) => EventIdentity | { eventId: undefined; eventType: string | null } | undefined,
): IdentifiedEvent[] | undefined {
  const list = parsed?.json[listKey];
  if (!parsed || !Array.isArray(list) || list.length === 0) return undefined;
  const out: { eventId: string; eventType: string | null }[] = [];
  for (const element of list) {
    const obj = asObject(element);
    const r = obj && read(obj);
    if (!r?.eventId) return undefined;
    out.push({ eventId: r.eventId, eventType: r.eventType });
  }
  const spans = itemSources(parsed.text, listKey, itemKey);
  if (!spans || spans.length !== out.length) return undefined;
  return out.map((event, i) => ({ ...event, rawBody: encoder.encode(spans[i]) }));
}

/**
 * The source text of each element of `listKey` (or its `itemKey` member), from jsonc-parser's
 * tree, which keeps offsets. A repeated key counts last, as in `JSON.parse`.
 */
function itemSources(text: string, listKey: string, itemKey: string | undefined): string[] | undefined {
  const list = lastMember(parseTree(text), listKey);
  if (list?.type !== 'array' || !list.children) return undefined;
  const out: string[] = [];
  for (const element of list.children) {
    const node = itemKey === undefined ? element : lastMember(element, itemKey);
    if (!node) return undefined;
    out.push(text.slice(node.offset, node.offset + node.length));
  }
  return out;
}

/** The value node of the last property `key` of an object node. */
function lastMember(object: JsonNode | undefined, key: string): JsonNode | undefined {
  if (object?.type !== 'object' || !object.children) return undefined;
  let found: JsonNode | undefined;
  for (const property of object.children) {
    const [name, value] = property.children ?? [];
    if (name?.value === key && value) found = value;
  }
  return found;
}
