// (node) One HTTP attempt of an outbound webhook: POST, no redirects, a hard deadline, a capped response body,
// and network failures returned as data so every attempt can be recorded.
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { SsrfBlockedError } from './ssrf.js';

/** One delivery attempt. */
export interface DispatchRequest {
  /** Absolute http(s) URL, already checked with `checkEndpointUrl`. */
  url: string;
  /** Request headers: the signed `webhook-*` ones, `content-type`, `user-agent`. */
  headers: Record<string, string>;
  /** The exact bytes that were signed. */
  body: Uint8Array;
  /** Deadline in **milliseconds** for the whole attempt, connect to last body byte. */
  timeoutMs: number;
  /** Response body bytes kept (and read) at most; the rest is discarded unread. */
  maxResponseBytes: number;
  /** Production passes the shared `createGuardedAgent()`; the default, undici's global dispatcher, has **no** SSRF guard. */
  dispatcher?: Dispatcher;
}

/**
 * What happened to one attempt. `response`: any status (3xx included), body cut to `maxResponseBytes` and
 * decoded as UTF-8, header values joined with `, `. `error`: no response, a short message such as `'timeout'`,
 * `'connection refused'` or `'blocked: 10.0.0.5 is private network (RFC 1918)'`. `durationMs`: wall time, **ms**.
 */
export type DispatchOutcome =
  | { kind: 'response'; status: number; body: string; headers: Record<string, string>; durationMs: number }
  | { kind: 'error'; error: string; durationMs: number };

/**
 * POSTs one attempt with undici `request()`, which follows no redirect without a redirect interceptor;
 * `headersTimeout`/`bodyTimeout` and an `AbortSignal.timeout` enforce `timeoutMs`; the connection is dropped
 * once `maxResponseBytes` are read.
 *
 * @returns The outcome; never rejects for network, TLS, timeout or SSRF failures.
 */
export async function dispatch(req: DispatchRequest): Promise<DispatchOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    const res = await request(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      ...(req.dispatcher ? { dispatcher: req.dispatcher } : {}),
    });
    const body = await readCapped(res.body, req.maxResponseBytes);
    return { kind: 'response', status: res.statusCode, body, headers: flattenHeaders(res.headers), durationMs: elapsed() };
  } catch (error) {
    return { kind: 'error', error: describeError(error), durationMs: elapsed() };
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  if (maxBytes > 0) {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const room = maxBytes - kept;
      const piece = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
      chunks.push(piece);
      kept += piece.byteLength;
      if (kept >= maxBytes) break;
    }
  }
  // Drop the socket rather than drain an arbitrarily large body. undici reports the
  // destroy as an 'error' (RequestAbortedError) that we caused, so it is swallowed.
  if (!body.destroyed) {
    body.on('error', () => {});
    body.destroy();
  }
  return Buffer.concat(chunks, kept).toString('utf8');
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const MESSAGES: Record<string, string> = {
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  ETIMEDOUT: 'timeout',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection reset',
  ENOTFOUND: 'host does not resolve',
  EAI_AGAIN: 'host does not resolve',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'response too large',
};

/** A short, log-safe message for a failed attempt; walks `cause` and AggregateError chains. */
function describeError(error: unknown): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (current instanceof SsrfBlockedError) return `blocked: ${current.message}`;
    if (current.name === 'TimeoutError') return 'timeout';
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined) {
      const known = MESSAGES[code];
      if (known !== undefined) return known;
      if (code.startsWith('ERR_TLS') || /CERT|SSL/.test(code)) return `tls error: ${code}`;
    }
    current = current instanceof AggregateError && current.errors.length > 0 ? current.errors[0] : current.cause;
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
