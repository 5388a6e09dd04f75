// POST /inbound/{sourceId}, on Node and Workers alike: Web Request/Response, Web Crypto, postgres.js.
import { Hono, type Context } from 'hono';
import { concatBytes } from '../../core/crypto.js';
import { describeFailure } from '../../core/db/errors.js';
import { AppError, type ErrorCode } from '../../core/errors.js';
import type { AppEnv, Deps, InboundOutcome, Log } from '../../core/deps.js';
import { problemBody, problemResponse } from '../../core/http/problem.js';
import { requestLog } from '../../core/http/request-context.js';
import { isId } from '../../core/ids.js';
import { SecretUnreadableError } from '../../core/secrets.js';
import { unstorableAt } from '../../core/text.js';
import { nestedDeeperThan } from '../json-depth.js';
import { identifyEvents } from '../providers.js';
import { storeInboundEvents, type NewInboundEvent, type StoredInboundEvent } from '../inbound-event-store.js';
import type { InboundBatcher } from '../batcher.js';
import type { ResolvedSource, SourceCache } from '../source-cache.js';
import { loadInboundSource } from '../source-store.js';
import { verifierForSource, type InboundProvider } from '../verifiers/index.js';
import { VerificationWatch } from '../verification-watch.js';
import { emitOperatorEvent } from '../../core/events/operator-event-store.js';
import { clientAddress } from '../../core/http/client-address.js';
import { VerificationFailureLimit } from '../verification-limit.js';

// Headers never stored with an inbound event: credentials of other systems.
const UNSTORED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** The body's bytes, or 'too_large' as soon as Content-Length or the bytes read exceed `maxBytes`. */
async function readBodyCapped(req: Request, maxBytes: number): Promise<Uint8Array | 'too_large'> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) return 'too_large';
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return 'too_large';
    }
    chunks.push(value);
  }
  return concatBytes(...chunks);
}

/**
 * `promise`, or a rejection after `ms`: postgres.js waits for ever on a silent server. The
 * store is not cancelled; if it commits later, the PSP's retry is acked as a duplicate.
 */
function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const STORE_UNAVAILABLE = 'The event could not be stored; retry later.';
const TOO_MANY_FAILURES =
  'Too many requests from this address failed verification for this source; it is refused unverified until Retry-After.';

/** What the inbound route may share across requests; each is optional (Workers and tests run without). */
export interface IngestOptions {
  /** Group commit of concurrent requests (Node); absent, each request stores its events alone. */
  inboundBatcher?: InboundBatcher;
  /** Source lookups, kept SWITCHYARD_SOURCE_CACHE_TTL_MS; absent, every request reads the database. */
  sourceCache?: SourceCache<ResolvedSource | undefined>;
}

/**
 * The inbound route (docs/http-api.md "Inbound"): reads the raw bytes under the size cap,
 * verifies them, stores and queues them in one statement, and acks after the commit.
 *
 * Answers 200 `{"received": true, "duplicate": bool}` (`duplicate`: every item was stored
 * already; Adyen gets exactly `[accepted]`, text/plain), or a problem: 400 payload_too_deep,
 * event_id_missing, event_text_invalid; 401 signature_missing, signature_invalid,
 * timestamp_out_of_tolerance; 404 source_not_found; 413 payload_too_large; 415
 * unsupported_media_type; 429 rate_limited (too many failed verifications from this client address, with
 * RateLimit headers and Retry-After; README "Rate limits"); 500 secret_unreadable; 503 store_unavailable.
 */
export function ingestRoutes(options: IngestOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Built on the first request, from its settings: only when operational webhooks are on.
  let watch: VerificationWatch | null | undefined;
  let failureLimit: VerificationFailureLimit | undefined;
  app.post('/:sourceId', async (c) => {
    const started = performance.now();
    const report: Report = { provider: 'unknown', outcome: 'internal_error' };
    const { config } = c.var.deps;
    watch ??=
      config.SWITCHYARD_OPERATOR_WEBHOOK_URL === undefined
        ? null
        : new VerificationWatch({
            rate: config.SWITCHYARD_SOURCE_FAILING_RATE,
            minRequests: config.SWITCHYARD_SOURCE_FAILING_MIN_REQUESTS,
            windowMs: config.SWITCHYARD_SOURCE_FAILING_WINDOW_SECONDS * 1000,
          });
    failureLimit ??= new VerificationFailureLimit(config.SWITCHYARD_INBOUND_FAILURES_PER_MINUTE);
    try {
      return await ingest(c, report, { ...options, failureLimit, ...(watch ? { watch } : {}) });
    } catch (error) {
      if (error instanceof AppError) report.outcome = error.code;
      throw error;
    } finally {
      c.var.deps.metrics?.inbound(report.provider, report.outcome, (performance.now() - started) / 1000);
    }
  });
  return app;
}

/** What the metrics hear about one inbound request; filled in as the route learns it. */
interface Report {
  provider: string;
  outcome: InboundOutcome;
}

/**
 * The source, its active secrets decrypted, and its verifier; undefined when there is none.
 * A secret the master key cannot open is left out and logged; throws
 * {@link SecretUnreadableError} when none opens, and the database error (or timeout) as is.
 */
async function resolveSource(
  deps: Deps,
  cache: IngestOptions['sourceCache'],
  sourceId: string,
  now: Date,
  log: Log,
): Promise<ResolvedSource | undefined> {
  const load = async (): Promise<ResolvedSource | undefined> => {
    // Bounded only when the database is asked: a cache hit sets no timer.
    const source = await withinMs(loadInboundSource(deps.sql, sourceId, now), deps.config.SWITCHYARD_INBOUND_STORE_TIMEOUT_MS);
    const verify = source && verifierForSource(source);
    if (!source || !verify) return undefined;
    const opened = await Promise.allSettled(source.secretEnvelopes.map((e) => deps.secretBox.decrypt(e)));
    const secrets = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const unreadable = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (unreadable) {
      if (!(unreadable.reason instanceof SecretUnreadableError) || secrets.length === 0) throw unreadable.reason;
      log.error(
        { sourceId, unreadable: opened.length - secrets.length, reason: unreadable.reason.message },
        'source secret cannot be opened; verifying with the others',
      );
    }
    return { source, secrets, verify };
  };
  return cache ? cache.get(sourceId, load) : load();
}

async function ingest(
  c: Context<AppEnv>,
  report: Report,
  options: IngestOptions & { watch?: VerificationWatch; failureLimit: VerificationFailureLimit },
): Promise<Response> {
  const deps = c.var.deps;
  const { clock, config } = deps;
  const refuse = (code: ErrorCode, status: number, detail: string): Response => {
    report.outcome = code;
    return problemResponse(problemBody(code, status, detail));
  };
  const sourceId = c.req.param('sourceId') ?? '';
  const now = clock();
  let resolved: ResolvedSource | undefined;
  try {
    resolved = isId('src', sourceId) ? await resolveSource(deps, options.sourceCache, sourceId, now, requestLog(c)) : undefined;
  } catch (error) {
    if (error instanceof SecretUnreadableError) {
      // The operator's to fix (the master key), not the PSP's: 500, and the PSP retries.
      requestLog(c).error({ sourceId, reason: error.message }, 'inbound event refused: no secret of the source can be opened');
      return refuse('secret_unreadable', 500, "The source's signing secret cannot be opened with this server's SWITCHYARD_MASTER_KEY.");
    }
    requestLog(c).error({ sourceId, reason: describeFailure(error) }, 'inbound source could not be read');
    return refuse('store_unavailable', 503, STORE_UNAVAILABLE);
  }
  if (!resolved) {
    // A malformed id is not echoed back (it may be arbitrarily long).
    return refuse(
      'source_not_found',
      404,
      isId('src', sourceId) ? `There is no source ${sourceId}.` : 'There is no such source: the path must be /inbound/src_….',
    );
  }
  const { source, secrets, verify } = resolved;
  report.provider = source.provider;

  // A pair past its limit of failed verifications is refused from memory, unread and unverified.
  const limit = options.failureLimit;
  const address = clientAddress(c, config.SWITCHYARD_CLIENT_ADDRESS_HEADER);
  const blocked = limit.blockedFor(source.id, address, now.getTime());
  if (blocked) {
    report.outcome = 'rate_limited';
    return problemResponse(problemBody('rate_limited', 429, TOO_MANY_FAILURES), limit.headers(blocked));
  }

  // PSPs sign the bytes they send, uncompressed; a body in another content coding is refused
  // unread (RFC 9110 §15.5.16: 415, naming the codings accepted).
  const encoding = c.req.header('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    report.outcome = 'unsupported_media_type';
    return problemResponse(
      problemBody('unsupported_media_type', 415, 'Content-Encoding is not supported: send the body uncompressed, as the PSP signed it.'),
      { 'accept-encoding': 'identity' },
    );
  }

  const max = config.SWITCHYARD_INBOUND_MAX_BYTES;
  const body = await (deps.readRawBody?.(c.env, max) ?? readBodyCapped(c.req.raw, max));
  if (body === 'too_large') {
    return refuse('payload_too_large', 413, `The body exceeds ${max} bytes.`);
  }

  // Before anything parses the body (the verifiers of JSON-signed PSPs do): parsers and
  // serialisers that recurse overflow the stack on a few thousand levels.
  const maxDepth = config.SWITCHYARD_INBOUND_MAX_DEPTH;
  if (nestedDeeperThan(body, maxDepth)) {
    requestLog(c).info({ sourceId, code: 'payload_too_deep' }, 'inbound event refused');
    return refuse('payload_too_deep', 400, `The body nests arrays and objects more than ${maxDepth} levels deep.`);
  }

  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  const verified = await verify({ body, headers, secrets, toleranceSeconds: source.toleranceSeconds, now, url: c.req.url });
  const failing = options.watch?.record(source.id, verified.ok, now.getTime());
  if (failing) alertSourceFailing(c, source, failing, now);
  if (!verified.ok) {
    // Only a failed request is counted: a verified event never waits on the limit.
    let limitHeaders: Record<string, string> = {};
    try {
      const take = await withinMs(limit.recordFailure(deps.sql, source.id, address, now), config.SWITCHYARD_INBOUND_STORE_TIMEOUT_MS);
      limitHeaders = limit.headers(take);
      if (!take.allowed) {
        requestLog(c).info({ sourceId, code: 'rate_limited' }, 'inbound event refused: too many failed verifications');
        report.outcome = 'rate_limited';
        return problemResponse(problemBody('rate_limited', 429, TOO_MANY_FAILURES), limitHeaders);
      }
    } catch (error) {
      requestLog(c).error({ sourceId, reason: describeFailure(error) }, 'failed verification not counted');
    }
    requestLog(c).info({ sourceId, code: verified.error.code }, 'inbound event refused');
    report.outcome = verified.error.code;
    return problemResponse(problemBody(verified.error.code, 401, verified.error.detail), limitHeaders);
  }

  const events = identifyEvents(source.provider as InboundProvider, body, verified.value.eventId);
  if (!events) {
    return refuse('event_id_missing', 400, 'The request verified, but no event id could be read from it.');
  }
  // Refused here, alone, rather than by PostgreSQL, whose refusal would fail the statement
  // and with it every request sharing the batch.
  const unstorable = events.findIndex((e) => unstorableAt(e.eventId) >= 0 || (e.eventType !== null && unstorableAt(e.eventType) >= 0));
  if (unstorable >= 0) {
    requestLog(c).warn({ sourceId, code: 'event_text_invalid', item: unstorable }, 'inbound event refused');
    return refuse(
      'event_text_invalid',
      400,
      'The request verified, but its event id or type holds a NUL (U+0000) or an unpaired surrogate, which cannot be stored.',
    );
  }

  for (const name of UNSTORED_HEADERS) delete headers[name];
  const rows: NewInboundEvent[] = events.map((event) => ({
    sourceId: source.id,
    merchantId: source.merchantId,
    eventId: event.eventId,
    eventType: event.eventType,
    rawBody: event.rawBody,
    headers,
  }));
  let results: StoredInboundEvent[];
  try {
    results = await withinMs(
      options.inboundBatcher ? options.inboundBatcher.submit(rows) : storeInboundEvents(deps.sql, rows),
      config.SWITCHYARD_INBOUND_STORE_TIMEOUT_MS,
    );
  } catch (error) {
    // One line, no stack: under a failing database every request logs this.
    requestLog(c).error({ sourceId, reason: describeFailure(error) }, 'inbound event could not be stored');
    return refuse('store_unavailable', 503, STORE_UNAVAILABLE);
  }
  // A duplicate request is one whose every event was already stored.
  const duplicate = results.every((r) => r.duplicate);
  requestLog(c).debug({ sourceId, inboundEventIds: results.map((r) => r.id), duplicate }, 'inbound event stored');
  report.outcome = duplicate ? 'duplicate' : 'stored';
  if (source.provider === 'adyen') {
    // Adyen treats anything but exactly this body as a failed delivery and retries.
    return c.text('[accepted]', 200);
  }
  return c.json({ received: true, duplicate }, 200);
}

/**
 * Tells the operator (an `inbound.source_failing` operational webhook, one per source and window) that a source's
 * requests fail verification at the configured rate: a rotated PSP secret, or someone posting forged events. Written
 * after the answer, its failure only logged: the PSP's request does not wait on it.
 */
function alertSourceFailing(
  c: Context<AppEnv>,
  source: { id: string; merchantId: string; provider: string },
  failing: { requests: number; failures: number; windowStart: Date },
  now: Date,
): void {
  const { sql, config } = c.var.deps;
  const log = requestLog(c);
  const windowStart = failing.windowStart.toISOString();
  const done = emitOperatorEvent(sql, config, {
    type: 'inbound.source_failing',
    merchantId: source.merchantId,
    dedupeKey: `inbound.source_failing:${source.id}:${windowStart}`,
    data: {
      sourceId: source.id,
      provider: source.provider,
      requests: failing.requests,
      failures: failing.failures,
      failureRate: failing.failures / failing.requests,
      windowStart,
    },
    at: now,
  }).catch((error: unknown) => log.error({ sourceId: source.id, reason: describeFailure(error) }, 'source_failing alert not stored'));
  // Workers: keep the isolate alive for the write.
  try {
    c.executionCtx.waitUntil(done);
  } catch {
    // Node: no execution context; the promise runs on.
  }
}
