// POST /inbound/{sourceId}: the PSP-facing route. Runs on Node and on Cloudflare Workers
// alike: Web Request/Response, Web Crypto and postgres.js only.
import { Hono, type Context } from 'hono';
import { concatBytes } from '../../core/crypto.js';
import { AppError, type ErrorCode } from '../../core/errors.js';
import type { AppEnv, InboundOutcome } from '../../core/http/env.js';
import { problemBody, problemResponse } from '../../core/http/problem.js';
import { requestLog } from '../../core/http/request-context.js';
import { isId } from '../../core/ids.js';
import { identifyEvents } from '../providers.js';
import { loadInboundSource, recordInboundEvent } from '../source-store.js';
import { verifierForSource, type InboundProvider } from '../verifiers/index.js';

// Headers never stored with an inbound event: credentials of other systems.
const UNSTORED_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * Reads a request body as bytes, at most `maxBytes`; 'too_large' as soon as the
 * Content-Length or the bytes read so far exceed it (the rest is never read).
 */
export async function readBodyCapped(req: Request, maxBytes: number): Promise<Uint8Array | 'too_large'> {
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

function storeUnavailable(cause: unknown): AppError {
  return new AppError('store_unavailable', 503, 'The event could not be stored; retry later.', { retryable: true, cause });
}

/**
 * The inbound route (CONTRACT.md "Inbound"): read the raw bytes once under the size cap,
 * verify them in the source's scheme, then in one transaction store them under
 * `UNIQUE (source_id, event_id)` and queue their processing; ack only after the commit.
 * A batching PSP's request (GoCardless `events`, Adyen `notificationItems`) is stored as one
 * inbound event per item, all in that one transaction (see identifyEvents); `duplicate`
 * is true only when every item was already stored.
 * Answers 200 `{"received": true, "duplicate": bool}` (Adyen: exactly `[accepted]`,
 * text/plain, which Adyen requires, duplicates included), or a problem: 404
 * source_not_found, 413 payload_too_large, 401 signature_missing / signature_invalid /
 * timestamp_out_of_tolerance, 400 event_id_missing, 503 store_unavailable.
 *
 * Every answer is reported to `deps.metrics?.inbound(provider, outcome, seconds)`: outcome
 * `stored`, `duplicate` or the problem code (`internal_error` for anything unexpected),
 * provider `unknown` when the source is not found; seconds from the route's start to the
 * ack. Log lines go through the request's logger (`c.var.log`).
 */
export function ingestRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/:sourceId', async (c) => {
    const started = performance.now();
    const report: Report = { provider: 'unknown', outcome: 'internal_error' };
    try {
      return await ingest(c, report);
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

async function ingest(c: Context<AppEnv>, report: Report): Promise<Response> {
  const { sql, clock, config, secretBox } = c.var.deps;
  const log = requestLog(c);
  const refuse = (code: ErrorCode, status: number, detail: string): Response => {
    report.outcome = code;
    return problemResponse(problemBody(code, status, detail));
  };
  const sourceId = c.req.param('sourceId') ?? '';
  const now = clock();
  let source;
  try {
    source = isId('src', sourceId) ? await loadInboundSource(sql, sourceId, now) : undefined;
  } catch (error) {
    throw storeUnavailable(error);
  }
  const verify = source && verifierForSource(source);
  if (!source || !verify) {
    return refuse('source_not_found', 404, `There is no source ${sourceId}.`);
  }
  report.provider = source.provider;

  const body = await readBodyCapped(c.req.raw, config.SWITCHYARD_INBOUND_MAX_BYTES);
  if (body === 'too_large') {
    return refuse('payload_too_large', 413, `The body exceeds ${config.SWITCHYARD_INBOUND_MAX_BYTES} bytes.`);
  }

  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value;
  });
  const secrets = await Promise.all(source.secretEnvelopes.map((e) => secretBox.decrypt(e)));
  const verified = await verify({ body, headers, secrets, toleranceSeconds: source.toleranceSeconds, now });
  if (!verified.ok) {
    log.info({ sourceId, code: verified.error.code }, 'inbound event refused');
    return refuse(verified.error.code, 401, verified.error.detail);
  }

  const events = identifyEvents(source.provider as InboundProvider, body, verified.value.eventId);
  if (!events) {
    return refuse('event_id_missing', 400, 'The request verified, but no event id could be read from it.');
  }

  const stored = Object.fromEntries(Object.entries(headers).filter(([k]) => !UNSTORED_HEADERS.has(k)));
  let results: { id: string; duplicate: boolean }[];
  try {
    // Every event of the request in one transaction: all stored and queued, or none. In
    // event id order, so two overlapping batches in flight at once take their unique-key
    // locks in the same order and cannot deadlock each other.
    const ordered = [...events].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
    results = await sql.begin(async (tx) => {
      const out: { id: string; duplicate: boolean }[] = [];
      for (const event of ordered) {
        out.push(
          await recordInboundEvent(tx, {
            sourceId: source.id,
            merchantId: source.merchantId,
            eventId: event.eventId,
            eventType: event.eventType,
            rawBody: event.rawBody,
            headers: stored,
          }),
        );
      }
      return out;
    });
  } catch (error) {
    log.error({ err: error, sourceId }, 'inbound event could not be stored');
    throw storeUnavailable(error);
  }
  // A duplicate request is one whose every event was already stored.
  const duplicate = results.every((r) => r.duplicate);
  const ids = results.length === 1 ? { inboundEventId: results[0]!.id } : { inboundEventIds: results.map((r) => r.id) };
  log.debug({ sourceId, ...ids, duplicate }, 'inbound event stored');
  report.outcome = duplicate ? 'duplicate' : 'stored';
  if (source.provider === 'adyen') {
    // Adyen treats anything but exactly this body as a failed delivery and retries.
    return c.text('[accepted]', 200);
  }
  return c.json({ received: true, duplicate }, 200);
}
