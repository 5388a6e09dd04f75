// Verify or fetch (README "Verify or fetch"): an event of a `trust: fetch` source is still verified and stored as
// any other, but processing applies the object's current state read from the PSP instead of the payload. The
// reads run in the `fetch_inbound_objects` task before its transaction, never inside one (process-event.task.ts);
// events of `trust: signature` sources never come here.
import type { Deps } from '../core/deps.js';
import type { PspObjectRead, PspObjectRef } from '../core/psp-objects.js';
import { normalizeFetched, normalizeInbound, objectToFetch } from './normalize/index.js';
import type { Normalized } from './normalize/types.js';
import { takePspFetchCalls } from './psp-fetch-store.js';

/** An event of a `trust: fetch` source as a processing transaction locked it (body null once expired). */
export interface EventToFetch {
  id: string;
  merchantId: string;
  sourceId: string;
  provider: string;
  rawBody: Uint8Array | null;
}

/**
 * What reading gave for one event:
 * - `payload`: nothing to read (a type Switchyard does not apply, an unreadable body): processed from the payload, so
 *   ignored or failed as any other;
 * - `found`: the PSP's object, applied in place of the payload's;
 * - `failed`: the PSP does not know the object (404) or refused the read: the event is failed with `reason`;
 * - `later`: the merchant's read budget is used up, or the PSP did not answer: processed again at `runAt`.
 */
export type FetchedState =
  | { kind: 'payload' }
  | { kind: 'found'; object: unknown }
  | { kind: 'failed'; reason: string }
  | { kind: 'later'; reason: string; runAt: Date };

/** Seconds before an event whose PSP did not answer (timeout, 5xx, 429) is processed again. */
const UNAVAILABLE_RETRY_SECONDS = 60;
/** The budget window of SWITCHYARD_PSP_FETCH_PER_MINUTE, ms. */
const WINDOW_MS = 60_000;

/**
 * Reads the PSP object of each event (one read per distinct object), within each merchant's budget of
 * SWITCHYARD_PSP_FETCH_PER_MINUTE reads (gw.psp_fetch_usage), through `deps.readPspObjects`. Returns a state per
 * event id. Runs no transaction of its own: each budget take is one statement. Throws only database errors.
 */
export async function readEventObjects(deps: Deps, events: readonly EventToFetch[]): Promise<Map<string, FetchedState>> {
  const states = new Map<string, FetchedState>();
  const now = deps.clock();
  const windowStart = new Date(Math.floor(now.getTime() / WINDOW_MS) * WINDOW_MS);
  const later = (reason: string, runAt: Date): FetchedState => ({ kind: 'later', reason, runAt });
  // distinct objects per merchant, each with the events that name it
  const byMerchant = new Map<string, Map<string, { sourceId: string; ref: PspObjectRef; events: string[] }>>();
  for (const e of events) {
    const ref = e.rawBody ? objectToFetch(e.provider, e.rawBody) : undefined;
    if (!ref) {
      states.set(e.id, { kind: 'payload' });
      continue;
    }
    const objects = byMerchant.get(e.merchantId) ?? new Map();
    byMerchant.set(e.merchantId, objects);
    const key = `${e.sourceId}\u0000${ref.type}\u0000${ref.id}`;
    const entry = objects.get(key) ?? { sourceId: e.sourceId, ref, events: [] };
    entry.events.push(e.id);
    objects.set(key, entry);
  }
  const reader = deps.readPspObjects;
  const reads: { merchantId: string; sourceId: string; objects: { ref: PspObjectRef; events: string[] }[] }[] = [];
  for (const [merchantId, objects] of byMerchant) {
    const wanted = [...objects.values()];
    if (!reader) {
      for (const o of wanted)
        for (const id of o.events)
          states.set(id, later('this process cannot read PSP objects', new Date(now.getTime() + UNAVAILABLE_RETRY_SECONDS * 1000)));
      continue;
    }
    const perMinute = deps.config.SWITCHYARD_PSP_FETCH_PER_MINUTE;
    const granted = await takePspFetchCalls(deps.sql, merchantId, windowStart, wanted.length, perMinute);
    for (const o of wanted.slice(granted)) {
      for (const id of o.events) {
        states.set(id, later(`the merchant's PSP reads are used up (${perMinute} a minute)`, new Date(windowStart.getTime() + WINDOW_MS)));
      }
    }
    const bySource = new Map<string, { ref: PspObjectRef; events: string[] }[]>();
    for (const o of wanted.slice(0, granted)) bySource.set(o.sourceId, [...(bySource.get(o.sourceId) ?? []), o]);
    for (const [sourceId, list] of bySource) reads.push({ merchantId, sourceId, objects: list });
  }
  if (!reader) return states;
  await Promise.all(
    reads.map(async ({ merchantId, sourceId, objects }) => {
      const results = await reader(
        deps,
        { merchantId, sourceId },
        objects.map((o) => o.ref),
      );
      objects.forEach((o, n) => {
        const state = stateOf(results[n]!, now);
        for (const id of o.events) states.set(id, state);
      });
    }),
  );
  for (const [id, s] of states) {
    if (s.kind === 'failed' || s.kind === 'later')
      deps.logger.warn({ inboundEventId: id, state: s.kind, reason: s.reason }, 'verify or fetch');
  }
  return states;
}

function stateOf(read: PspObjectRead, now: Date): FetchedState {
  switch (read.kind) {
    case 'found':
      return { kind: 'found', object: read.object };
    case 'not_found':
    case 'refused':
      return { kind: 'failed', reason: `verify or fetch: ${read.reason}; the payload was not applied` };
    case 'unavailable':
      return { kind: 'later', reason: read.reason, runAt: new Date(now.getTime() + UNAVAILABLE_RETRY_SECONDS * 1000) };
  }
}

/** The event normalized from its state: the PSP's object in place of the payload, the failure, or the payload itself. */
export function normalizeWithState(provider: string, rawBody: Uint8Array, state: Exclude<FetchedState, { kind: 'later' }>): Normalized {
  if (state.kind === 'found') return normalizeFetched(provider, rawBody, state.object);
  if (state.kind === 'failed') return { kind: 'invalid', reason: state.reason };
  return normalizeInbound(provider, rawBody);
}
