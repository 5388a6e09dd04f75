import type { InboundProvider } from './verifiers/index.js';

/** The PSP's id and type of an event, read after its signature verified. */
export interface EventIdentity {
  eventId: string;
  eventType: string | null;
}

function parseJsonObject(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const idLike = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : undefined;

/**
 * Reads the event id and type from a verified request. Stripe: the body's `id` (`evt_…`)
 * and `type` (https://docs.stripe.com/api/events/object). Standard Webhooks: the
 * `webhook-id` header (the verifier hands it over) and the body's `type`. Returns
 * undefined when no id can be read (the route answers 400 `event_id_missing`).
 */
export function identifyEvent(
  provider: InboundProvider,
  body: Uint8Array,
  headerEventId: string | undefined,
): EventIdentity | undefined {
  const json = parseJsonObject(body);
  const eventType = typeof json?.type === 'string' ? json.type : null;
  const eventId = provider === 'standard-webhooks' ? idLike(headerEventId) ?? idLike(json?.id) : idLike(json?.id);
  return eventId ? { eventId, eventType } : undefined;
}
