// fast-check fuzzing of POST /inbound/{sourceId} across all nine providers, in process
// (app.request, no network), against a real database:
// - genuine requests (random payloads signed by the signer twins) always get 200 and exactly
//   their rows and jobs;
// - genuine requests mutated after signing (flipped, truncated or appended bytes, re-serialised
//   JSON, signature headers with flipped characters, whitespace, name or value case changes,
//   duplicated, truncated or dropped) never get a 5xx, get a 200 only when what the PSP signs is unchanged, and then
//   store nothing new;
// - arbitrary bodies and headers never get a 5xx or a 200 and store nothing;
// - genuine requests carrying text PostgreSQL cannot store (NUL, lone surrogates) in their
//   event id are refused alone (400), in other text stored (200), and never cost a genuine
//   request sharing their batch its ack; bodies nested past the limit are 400, signed or not.
// Counts of gw.inbound_events rows and graphile-worker jobs are compared with the number of
// genuine events sent.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import type { Deps } from '../../src/core/deps.js';
import { createInboundBatcher } from '../../src/inbound/batcher.js';
import { adyenSigningString } from '../../src/inbound/verifiers/adyen.js';
import type { InboundProvider } from '../../src/inbound/verifiers/index.js';
import { aMerchant, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { NOW, PROVIDERS, createSources, signedRequest, storedCounts, type SignedRequest } from './signed-requests.js';

// Runs per property: 3,100 cases and 3,900 requests in all (about 45 s on a loaded 2-core machine).
const GENUINE_RUNS = 300;
const MUTATION_RUNS = 800;
const GARBAGE_RUNS = 2000;
const HOSTILE_RUNS = 300;

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let sources: Record<InboundProvider, string>;
let serial = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  // Every request comes from one address at one instant: the limit on failed verifications (test/app/rate-limits.test.ts)
  // would soon refuse them all unverified, and these properties are about the verifiers.
  deps = await testDeps(db, { clock: fixedClock(NOW), env: { SWITCHYARD_INBOUND_FAILURES_PER_MINUTE: '100000' } });
  app = testApp(deps);
  sources = await createSources(app, (await aMerchant(deps)).apiKey);
});
afterAll(async () => db.drop());

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The signature headers each verifier checks (lower-case), the ones mutations target. */
const SIGNATURE_HEADERS: Record<InboundProvider, string[]> = {
  stripe: ['stripe-signature'],
  'standard-webhooks': ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  adyen: [],
  razorpay: ['x-razorpay-signature'],
  checkout: ['cko-signature'],
  paystack: ['x-paystack-signature'],
  square: ['x-square-hmacsha256-signature'],
  gocardless: ['webhook-signature'],
  mercadopago: ['x-signature', 'x-request-id'],
};

/** A genuine request with the path it is sent to (Mercado Pago: with or without `?data.id=` as Mercado Pago appends it). */
interface Genuine extends SignedRequest {
  provider: InboundProvider;
  path: string;
}

type Seed = { amount: number; note: string; items: number; dataIdInUrl: boolean };
const seedArb: fc.Arbitrary<Seed> = fc.record({
  amount: fc.integer({ min: 1, max: 2 ** 40 }),
  note: fc.string({ unit: 'grapheme', maxLength: 40 }),
  items: fc.integer({ min: 1, max: 3 }),
  dataIdInUrl: fc.boolean(),
});

async function genuineRequest(provider: InboundProvider, seed: Seed): Promise<Genuine> {
  const signed = await signedRequest(provider, { token: `fz${serial++}`, amount: seed.amount, note: seed.note, items: seed.items });
  let path = `/inbound/${sources[provider]}`;
  if (provider === 'mercadopago' && seed.dataIdInUrl) {
    const dataId = (JSON.parse(signed.body) as { data: { id: string } }).data.id;
    path += `?data.id=${encodeURIComponent(dataId)}&type=payment`;
  }
  return { ...signed, provider, path };
}

async function send(path: string, body: Uint8Array | string, headers: Headers | Record<string, string>): Promise<Response> {
  return app.request(path, { method: 'POST', headers, body });
}

/** Asserts a 200 ack: `[accepted]` for Adyen, else `{received: true, duplicate}`. */
async function expectAck(res: Response, provider: InboundProvider, duplicate: boolean): Promise<void> {
  expect(res.status).toBe(200);
  if (provider === 'adyen') expect(await res.text()).toBe('[accepted]');
  else expect(await res.json()).toEqual({ received: true, duplicate });
}

/** Asserts a refusal: a 4xx problem+json. */
async function expectRefusal(res: Response): Promise<void> {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(((await res.json()) as { code?: unknown }).code).toEqual(expect.any(String));
}

async function rowsFor(provider: InboundProvider, eventIds: string[]): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from gw.inbound_events where source_id = ${sources[provider]} and event_id = any(${eventIds})`;
  return row!.n;
}

describe('POST /inbound/{sourceId} fuzzed', () => {
  it(`acks ${GENUINE_RUNS} genuine requests of random content, each with 200, exactly one row per event, and each event queued for processing once`, async () => {
    const before = await storedCounts(db.sql);
    let events = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PROVIDERS), seedArb, async (provider, seed) => {
        const g = await genuineRequest(provider, seed);
        const counts = await storedCounts(db.sql);
        await expectAck(await send(g.path, g.body, g.headers), provider, false);
        expect(await rowsFor(provider, g.eventIds)).toBe(g.eventIds.length);
        expect(await storedCounts(db.sql)).toEqual({ events: counts.events + g.eventIds.length, jobs: counts.jobs + g.eventIds.length });
        events += g.eventIds.length;
      }),
      { numRuns: GENUINE_RUNS },
    );
    expect(await storedCounts(db.sql)).toEqual({ events: before.events + events, jobs: before.jobs + events });
  }, 300_000);

  it(`refuses ${MUTATION_RUNS} genuine requests mutated after signing unless what the PSP signs is unchanged, and stores nothing new`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PROVIDERS), seedArb, mutationArb, async (provider, seed, mutation) => {
        const g = await genuineRequest(provider, seed);
        await expectAck(await send(g.path, g.body, g.headers), provider, false);
        const before = await storedCounts(db.sql);

        const body = utf8(g.body);
        const mutated = mutateBody(body, mutation);
        const headers = mutateHeaders(g.headers, SIGNATURE_HEADERS[provider], mutation);
        const res = await send(g.path, mutated, headers);
        const after = await storedCounts(db.sql);

        if (res.status !== 200) {
          await expectRefusal(res);
          expect(after).toEqual(before);
          return;
        }
        // A 200 only for what the PSP signed, unchanged (whatever it was wrapped in).
        expect(signedContent(provider, mutated, g.path)).toBe(signedContent(provider, body, g.path));
        if (provider === 'mercadopago' && !sameUnsignedIdentity(body, mutated)) {
          // Mercado Pago signs data.id, x-request-id and ts, not the body's own id, type or action,
          // which make the event id: a genuine notification replayed within the tolerance with
          // those changed is a new event (see the report on issue #7). Still one row and one job.
          await expectAck(res, provider, false);
          expect(after).toEqual({ events: before.events + 1, jobs: before.jobs + 1 });
          return;
        }
        await expectAck(res, provider, true);
        expect(after).toEqual(before);
      }),
      { numRuns: MUTATION_RUNS },
    );
  }, 300_000);

  it(`refuses ${GARBAGE_RUNS} requests of arbitrary bodies and headers with a 4xx, never a 5xx or a 200, and stores nothing`, async () => {
    const before = await storedCounts(db.sql);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PROVIDERS), bodyArb, headersArb, async (provider, body, headers) => {
        const h = new Headers();
        for (const [name, value] of headers) h.append(name, value);
        const res = await send(`/inbound/${sources[provider]}`, body, h);
        await expectRefusal(res);
      }),
      { numRuns: GARBAGE_RUNS },
    );
    expect(await storedCounts(db.sql)).toEqual(before);
  }, 300_000);

  it(`refuses ${HOSTILE_RUNS} genuine requests with unstorable text in their event id alone (400), stores those with it elsewhere, and never fails a neighbour in the batch`, async () => {
    // A batching app, as on Node: the hostile request and a genuine one share a statement.
    const batching = testApp({ ...deps, inboundBatcher: createInboundBatcher(db.sql, { maxWeight: 100, windowMs: 5, maxInFlight: 1 }) });
    const post = (path: string, body: Uint8Array | string, headers: Headers | Record<string, string>) =>
      batching.request(path, { method: 'POST', headers, body });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BODY_ID_PROVIDERS), seedArb, hostileArb, async (provider, seed, hostile) => {
        const token = `hz${serial++}`;
        const g = await genuineRequest('stripe', seed);
        const h = await signedRequest(provider, {
          token: hostile.where === 'id' ? `${token}${hostile.text}` : token,
          amount: seed.amount,
          note: hostile.where === 'note' ? `${seed.note}${hostile.text}` : seed.note,
          items: seed.items,
        });
        const before = await storedCounts(db.sql);
        const [genuine, res] = await Promise.all([
          post(g.path, g.body, g.headers),
          post(`/inbound/${sources[provider]}`, h.body, { 'content-type': 'application/json', ...h.headers }),
        ]);
        await expectAck(genuine, 'stripe', false);
        if (hostile.where === 'id') {
          expect(res.status).toBe(400);
          expect(((await res.json()) as { code: string }).code).toBe('event_text_invalid');
          expect(await storedCounts(db.sql)).toEqual({ events: before.events + 1, jobs: before.jobs + 1 });
        } else {
          await expectAck(res, provider, false);
          expect(await rowsFor(provider, h.eventIds)).toBe(h.eventIds.length);
        }
      }),
      { numRuns: HOSTILE_RUNS },
    );
  }, 300_000);

  it(`refuses ${HOSTILE_RUNS} bodies nested past SWITCHYARD_INBOUND_MAX_DEPTH with 400 payload_too_deep, genuine Adyen items included, and stores none of them`, async () => {
    const max = deps.config.SWITCHYARD_INBOUND_MAX_DEPTH;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PROVIDERS), seedArb, levelsArb, async (provider, seed, levels) => {
        const g = await genuineRequest(provider, seed);
        const before = await storedCounts(db.sql);
        let body: string;
        if (provider === 'adyen') {
          // additionalData is not signed: nesting there keeps the notification genuine.
          body = g.body.replace('"additionalData":{', `"additionalData":{"deep":${'['.repeat(levels)}${']'.repeat(levels)},`);
        } else body = `${'['.repeat(levels)}${g.body}${']'.repeat(levels)}`;
        const res = await send(g.path, body, { 'content-type': 'application/json', ...g.headers });
        // Adyen's additionalData is an object at level 5 (body, list, element, item, it); other bodies are wrapped.
        const depth = provider === 'adyen' ? 5 + levels : levels + jsonDepth(g.body);
        if (depth > max) {
          expect(res.status).toBe(400);
          expect(((await res.json()) as { code: string }).code).toBe('payload_too_deep');
          expect(await storedCounts(db.sql)).toEqual(before);
        } else if (provider === 'adyen') {
          await expectAck(res, provider, false);
        } else {
          await expectRefusal(res);
          expect(await storedCounts(db.sql)).toEqual(before);
        }
      }),
      { numRuns: HOSTILE_RUNS },
    );
  }, 300_000);
});

// ---- Hostile text and nesting -------------------------------------------------------------------

/** Providers whose event id is read from the body (the others take it from a header, which cannot hold these characters). */
const BODY_ID_PROVIDERS: InboundProvider[] = ['stripe', 'adyen', 'checkout', 'paystack', 'square', 'gocardless'];

/** Text PostgreSQL refuses (NUL, lone high or low surrogates, a reversed pair), placed in the event id or in other text. */
const hostileArb = fc.record({
  text: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800', 'a\u0000b'),
  where: fc.constantFrom('id' as const, 'note' as const),
});

/** Extra nesting levels: mostly around the limit (64), sometimes thousands. */
const levelsArb = fc.oneof(fc.integer({ min: 55, max: 66 }), fc.integer({ min: 1, max: 4000 }));

/** Deepest nesting of arrays and objects in a JSON text, by a recursive walk (test-only: the inputs are shallow). */
function jsonDepth(text: string): number {
  const walk = (v: unknown): number =>
    typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v as Record<string, unknown>).map(walk)) : 0;
  return walk(JSON.parse(text));
}

// ---- What each provider signs: the oracle for "unchanged" -------------------------------------

/**
 * A string that is the same for two requests exactly when what `provider` signs is the same:
 * the body bytes for the body-HMAC schemes, Stripe and Standard Webhooks; the signed fields and
 * hmacSignature of every item for Adyen; data.id (lower-cased) for Mercado Pago, from the URL
 * when it has one (the body's then must match it or be absent). Independent of the verifiers'
 * code paths, written from the PSPs' docs.
 */
function signedContent(provider: InboundProvider, body: Uint8Array, path: string): string {
  if (provider === 'adyen') {
    const json = parse(body) as { notificationItems?: unknown } | undefined;
    const list = json?.notificationItems;
    if (!Array.isArray(list) || list.length === 0) return 'not a notification';
    const parts: string[] = [];
    for (const entry of list) {
      const item = (entry as { NotificationRequestItem?: Record<string, unknown> } | null)?.NotificationRequestItem;
      if (typeof item !== 'object' || item === null) return 'not a notification';
      const sig = (item.additionalData as { hmacSignature?: unknown } | undefined)?.hmacSignature;
      parts.push(`${adyenSigningString(item)}|${String(sig)}`);
    }
    return parts.join('\n');
  }
  if (provider === 'mercadopago') {
    const bodyId = dataIdOf(body);
    const urlId = new URLSearchParams(path.split('?')[1] ?? '').get('data.id') ?? undefined;
    if (urlId !== undefined) {
      return bodyId === undefined || bodyId.toLowerCase() === urlId.toLowerCase() ? `url:${urlId.toLowerCase()}` : 'body differs from url';
    }
    return `body:${bodyId?.toLowerCase()}`;
  }
  return Array.from(body, (b) => b.toString(16).padStart(2, '0')).join('');
}

function parse(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
}

function dataIdOf(body: Uint8Array): string | undefined {
  const json = parse(body) as { data?: { id?: unknown } } | undefined;
  const id = typeof json === 'object' && json !== null && typeof json.data === 'object' && json.data !== null ? json.data.id : undefined;
  return typeof id === 'string' && id !== '' ? id : typeof id === 'number' ? String(id) : undefined;
}

/**
 * Whether two Mercado Pago notifications have the same event id as README "Providers" defines
 * it (the body's `id`, else `type:data.id`), parts Mercado Pago does not sign.
 */
function sameUnsignedIdentity(a: Uint8Array, b: Uint8Array): boolean {
  const eventId = (x: Uint8Array): string | undefined => {
    const j = parse(x) as Record<string, unknown> | undefined;
    const part = (v: unknown): string | undefined =>
      typeof v === 'string' && v !== '' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : undefined;
    const own = part(j?.id);
    if (own) return own;
    const kind = part(j?.type) ?? part(j?.action);
    const dataId = part((j?.data as { id?: unknown } | undefined)?.id);
    return kind && dataId ? `${kind}:${dataId}` : undefined;
  };
  return eventId(a) === eventId(b);
}

// ---- Mutations --------------------------------------------------------------------------------

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'reserialise'; indent: number | string; reorder: boolean }
  | { kind: 'header-flip'; which: number; at: number; char: string }
  | { kind: 'header-space'; which: number; where: 'lead' | 'trail' | 'after-comma' | 'after-equals' | 'inside'; ws: string }
  | { kind: 'header-case'; which: number }
  | { kind: 'value-case'; which: number; to: 'upper' | 'lower' | 'swap' }
  | { kind: 'header-drop'; which: number }
  | { kind: 'header-duplicate'; which: number }
  | { kind: 'header-truncate'; which: number; keep: number }
  | { kind: 'body-and-header'; at: number; mask: number; which: number; ws: string };

const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const which = fc.nat({ max: 7 });
const ws = fc.constantFrom(' ', '\t', '  ');
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fraction, mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fraction }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('reserialise' as const), indent: fc.constantFrom(0, 1, 2, '\t'), reorder: fc.boolean() }),
  fc.record({
    kind: fc.constant('header-flip' as const),
    which,
    at: fraction,
    char: fc.constantFrom('0', 'a', 'A', 'z', '=', ',', '+', '/', ' ', 'é'),
  }),
  fc.record({
    kind: fc.constant('header-space' as const),
    which,
    where: fc.constantFrom('lead', 'trail', 'after-comma', 'after-equals', 'inside'),
    ws,
  }),
  fc.record({ kind: fc.constant('header-case' as const), which }),
  fc.record({ kind: fc.constant('value-case' as const), which, to: fc.constantFrom('upper' as const, 'lower' as const, 'swap' as const) }),
  fc.record({ kind: fc.constant('header-drop' as const), which }),
  fc.record({ kind: fc.constant('header-duplicate' as const), which }),
  fc.record({ kind: fc.constant('header-truncate' as const), which, keep: fraction }),
  fc.record({ kind: fc.constant('body-and-header' as const), at: fraction, mask: fc.integer({ min: 1, max: 255 }), which, ws }),
);

function mutateBody(body: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'flip':
    case 'body-and-header': {
      const out = body.slice();
      const i = Math.floor(m.at * out.length);
      out[i] = out[i]! ^ m.mask;
      return out;
    }
    case 'truncate':
      return body.slice(0, Math.floor(m.keep * body.length));
    case 'append': {
      const out = new Uint8Array(body.length + m.bytes.length);
      out.set(body);
      out.set(m.bytes, body.length);
      return out;
    }
    case 'reserialise': {
      const json = parse(body);
      const value = m.reorder ? reorder(json) : json;
      return utf8(JSON.stringify(value, null, m.indent));
    }
    default:
      return body;
  }
}

/** The same JSON value with every object's keys in reverse order. */
function reorder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reorder);
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reorder(x)]),
    );
  return v;
}

/** The request's headers, with one of `targets` mutated as `m` says (no target: unchanged). */
function mutateHeaders(original: Record<string, string>, targets: string[], m: Mutation): Headers {
  const headers = new Headers({ 'content-type': 'application/json' });
  const entries = Object.entries(original);
  const target = 'which' in m && targets.length > 0 ? targets[m.which % targets.length] : undefined;
  for (const [name, value] of entries) {
    if (name !== target) {
      headers.append(name, value);
      continue;
    }
    switch (m.kind) {
      case 'header-flip': {
        const i = Math.floor(m.at * value.length);
        headers.append(name, value.slice(0, i) + m.char + value.slice(i + 1));
        break;
      }
      case 'header-space':
        headers.append(name, addSpace(value, m.where, m.ws));
        break;
      case 'body-and-header':
        headers.append(name, addSpace(value, 'trail', m.ws));
        break;
      case 'header-case':
        headers.append(name.toUpperCase(), value);
        break;
      case 'value-case':
        headers.append(
          name,
          m.to === 'upper'
            ? value.toUpperCase()
            : m.to === 'lower'
              ? value.toLowerCase()
              : Array.from(value, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''),
        );
        break;
      case 'header-drop':
        break;
      case 'header-duplicate':
        headers.append(name, value);
        headers.append(name, value);
        break;
      case 'header-truncate':
        headers.append(name, value.slice(0, Math.floor(m.keep * value.length)));
        break;
      default:
        headers.append(name, value);
    }
  }
  return headers;
}

function addSpace(value: string, where: 'lead' | 'trail' | 'after-comma' | 'after-equals' | 'inside', w: string): string {
  switch (where) {
    case 'lead':
      return w + value;
    case 'trail':
      return value + w;
    case 'after-comma':
      return value.replace(',', `,${w}`);
    case 'after-equals':
      return value.replace('=', `=${w}`);
    case 'inside': {
      const i = Math.floor(value.length / 2);
      return value.slice(0, i) + w + value.slice(i);
    }
  }
}

// ---- Arbitrary bodies and headers -------------------------------------------------------------

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const b64 = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('base64'));
/** Header values Node would hand over: visible ASCII and Latin-1, no CR, LF or NUL. */
const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c)),
  maxLength: 300,
});
const unix = fc.integer({ min: 0, max: 4_102_444_800 });
const plausibleValue = fc.oneof(
  headerText,
  hex(64),
  hex(128),
  b64(32),
  fc.tuple(unix, hex(64)).map(([t, h]) => `t=${t},v1=${h}`),
  fc.tuple(unix, hex(64)).map(([t, h]) => `ts=${t * 1000},v1=${h}`),
  b64(32).map((s) => `v1,${s}`),
  unix.map(String),
  fc.constant(String(Math.floor(NOW.getTime() / 1000))),
  fc.constant(`t=${Math.floor(NOW.getTime() / 1000)},v1=`),
);
const signatureHeaderNames = [
  ...new Set(Object.values(SIGNATURE_HEADERS).flat()),
  'x-razorpay-event-id',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'x-square-signature',
];
const headerName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...signatureHeaderNames) },
  { weight: 1, arbitrary: fc.stringMatching(/^x-[a-z0-9-]{1,20}$/) },
  { weight: 1, arbitrary: fc.constantFrom('content-type', 'content-length-x', 'user-agent', 'accept') },
);
const headersArb = fc.array(fc.tuple(headerName, plausibleValue), { maxLength: 6 });

/** A genuine body shape of a random provider with random values, random JSON, random text or random bytes. */
const bodyArb: fc.Arbitrary<Uint8Array | string> = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  fc.json({ maxDepth: 4 }),
  fc.string({ unit: 'binary', maxLength: 512 }),
  fc.constant(''),
  fc
    .record({
      id: fc.string({ maxLength: 30 }),
      type: fc.constantFrom('payment_intent.succeeded', 'payment.captured', 'payment_captured', 'charge.success', 'payment.updated'),
      event_id: fc.string({ maxLength: 30 }),
      event: fc.constantFrom('payment.captured', 'charge.success'),
      data: fc.record({ id: fc.oneof(fc.string(), fc.integer()) }),
      events: fc.array(fc.record({ id: fc.string({ maxLength: 12 }), action: fc.string({ maxLength: 12 }) }), { maxLength: 3 }),
      notificationItems: fc.array(
        fc.record({
          NotificationRequestItem: fc.record({
            pspReference: fc.string({ maxLength: 16 }),
            eventCode: fc.constantFrom('AUTHORISATION', 'CAPTURE'),
            success: fc.constantFrom('true', 'false'),
            additionalData: fc.record({ hmacSignature: fc.oneof(b64(32), fc.string()) }),
          }),
        }),
        { maxLength: 3 },
      ),
    })
    .map((o) => JSON.stringify(o)),
);
