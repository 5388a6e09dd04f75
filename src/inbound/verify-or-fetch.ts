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
 * - `failed`: the PSP does not know the object (404) or refused the read, or did not answer after the last retry of
 *   {@link FETCH_RETRY_SECONDS}: the event is failed with `reason`;
 * - `later`: the merchant's read budget is used up, or the PSP did not answer (`retry`: this counts as one of the
 *   job's retries): processed again at `runAt`.
 */
export type FetchedState =
  | { kind: 'payload' }
  | { kind: 'found'; object: unknown }
  | { kind: 'failed'; reason: string }
  | { kind: 'later'; reason: string; runAt: Date; retry?: true };

/**
 * Verify or fetch's retry schedule, seconds: how long after the n-th read that found the PSP unavailable (timeout,
 * network error, 5xx, 429) the events are read again (n from 0). An event still unavailable after the last is failed;
 * about 3.8 hours in all. Waits for the read budget follow the budget's window and are not counted.
 */
export const FETCH_RETRY_SECONDS: readonly number[] = [60, 120, 300, 600, 1800, 3600, 3600, 3600];

/** Seconds before an event of a process that cannot read PSP objects (no reader) is tried again. */
const NO_READER_RETRY_SECONDS = 60;
/** The budget window of SWITCHYARD_PSP_FETCH_PER_MINUTE, ms. */
const WINDOW_MS = 60_000;

/**
 * Reads the PSP object of each event (one read per distinct object), within each merchant's budget of
 * SWITCHYARD_PSP_FETCH_PER_MINUTE reads (gw.psp_fetch_usage), through `deps.readPspObjects`. `retries` is how many
 * reads of these events found the PSP unavailable before (the job's count): it picks the wait in
 * {@link FETCH_RETRY_SECONDS}, past whose end an unavailable object fails its events. Returns a state per event id, and
 * reports each object's outcome and each call's duration to `deps.metrics`. Runs no transaction of its own: each
 * budget take is one statement. Throws only database errors.
 */
export async function readEventObjects(deps: Deps, events: readonly EventToFetch[], retries = 0): Promise<Map<string, FetchedState>> {
  const states = new Map<string, FetchedState>();
  const now = deps.clock();
  const windowStart = new Date(Math.floor(now.getTime() / WINDOW_MS) * WINDOW_MS);
  const later = (reason: string, runAt: Date): FetchedState => ({ kind: 'later', reason, runAt });
  // distinct objects per merchant, each with the events that name it
  const byMerchant = new Map<string, Map<string, { sourceId: string; provider: string; ref: PspObjectRef; events: string[] }>>();
  for (const e of events) {
    const ref = e.rawBody ? objectToFetch(e.provider, e.rawBody) : undefined;
    if (!ref) {
      states.set(e.id, { kind: 'payload' });
      continue;
    }
    const objects = byMerchant.get(e.merchantId) ?? new Map();
    byMerchant.set(e.merchantId, objects);
    const key = `${e.sourceId}\u0000${ref.type}\u0000${ref.id}`;
    const entry = objects.get(key) ?? { sourceId: e.sourceId, provider: e.provider, ref, events: [] };
    entry.events.push(e.id);
    objects.set(key, entry);
  }
  const reader = deps.readPspObjects;
  const reads: { merchantId: string; sourceId: string; provider: string; objects: { ref: PspObjectRef; events: string[] }[] }[] = [];
  for (const [merchantId, objects] of byMerchant) {
    const wanted = [...objects.values()];
    if (!reader) {
      for (const o of wanted)
        for (const id of o.events)
          states.set(id, later('this process cannot read PSP objects', new Date(now.getTime() + NO_READER_RETRY_SECONDS * 1000)));
      continue;
    }
    const perMinute = deps.config.SWITCHYARD_PSP_FETCH_PER_MINUTE;
    const granted = await takePspFetchCalls(deps.sql, merchantId, windowStart, wanted.length, perMinute);
    for (const o of wanted.slice(granted)) {
      deps.metrics?.pspFetch(o.provider, 'over_budget', 1);
      for (const id of o.events) {
        states.set(id, later(`the merchant's PSP reads are used up (${perMinute} a minute)`, new Date(windowStart.getTime() + WINDOW_MS)));
      }
    }
    const bySource = new Map<string, { provider: string; ref: PspObjectRef; events: string[] }[]>();
    for (const o of wanted.slice(0, granted)) bySource.set(o.sourceId, [...(bySource.get(o.sourceId) ?? []), o]);
    for (const [sourceId, list] of bySource) reads.push({ merchantId, sourceId, provider: list[0]!.provider, objects: list });
  }
  if (!reader) return states;
  await Promise.all(
    reads.map(async ({ merchantId, sourceId, provider, objects }) => {
      const started = performance.now();
      const results = await reader(
        deps,
        { merchantId, sourceId },
        objects.map((o) => o.ref),
      );
      deps.metrics?.pspFetchDuration(provider, (performance.now() - started) / 1000);
      objects.forEach((o, n) => {
        const read = results[n]!;
        const state = stateOf(read, now, retries);
        deps.metrics?.pspFetch(provider, read.kind === 'unavailable' && state.kind === 'failed' ? 'given_up' : read.kind, 1);
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

function stateOf(read: PspObjectRead, now: Date, retries: number): FetchedState {
  switch (read.kind) {
    case 'found':
      return { kind: 'found', object: read.object };
    case 'not_found':
    case 'refused':
      return { kind: 'failed', reason: `verify or fetch: ${read.reason}; the payload was not applied` };
    case 'unavailable': {
      const wait = FETCH_RETRY_SECONDS[retries];
      if (wait === undefined) {
        return {
          kind: 'failed',
          reason: `verify or fetch: the PSP did not answer ${retries + 1} reads (last: ${read.reason}); the payload was not applied`,
        };
      }
      return { kind: 'later', reason: read.reason, runAt: new Date(now.getTime() + wait * 1000), retry: true };
    }
  }
}

/** The event normalized from its state: the PSP's object in place of the payload, the failure, or the payload itself. */
export function normalizeWithState(provider: string, rawBody: Uint8Array, state: Exclude<FetchedState, { kind: 'later' }>): Normalized {
  if (state.kind === 'found') return normalizeFetched(provider, rawBody, state.object);
  if (state.kind === 'failed') return { kind: 'invalid', reason: state.reason };
  return normalizeInbound(provider, rawBody);
}
