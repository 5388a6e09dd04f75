// (node) The node:http server's limits, and problem+json answers for requests Node's HTTP
// parser (or @hono/node-server's request building) refuses before any route sees them.
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerType } from '@hono/node-server';
import type { Config } from '../../core/config.js';
import type { ErrorCode } from '../../core/errors.js';
import { problemBody } from '../../core/http/problem.js';

/** How long a refused connection may still send (its bytes are discarded) before it is destroyed, ms. */
const LINGER_MS = 2_000;

/** The settings {@link applyServerLimits} reads (defaults in src/core/config.ts). */
type ServerLimits = Pick<
  Config,
  | 'SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS'
  | 'SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS'
  | 'SWITCHYARD_HTTP_KEEP_ALIVE_TIMEOUT_MS'
  | 'SWITCHYARD_HTTP_MAX_CONNECTIONS'
>;

/**
 * Sets a node:http server's `requestTimeout`, `headersTimeout` (capped at `requestTimeout`,
 * as Node requires) and `keepAliveTimeout`, all ms, and `maxConnections`. The expiry check
 * (`connectionsCheckingInterval`, Node's default 30 s) runs every quarter of the headers
 * timeout, clamped to 100 ms–1 s. Call it right after `serve()`: Node starts that check on
 * 'listening'.
 *
 * Source: https://nodejs.org/docs/latest-v20.x/api/http.html#serverrequesttimeout
 *
 * @example
 * const server = serve({ fetch, port });
 * applyServerLimits(server, config);
 */
export function applyServerLimits(httpServer: ServerType, limits: ServerLimits): void {
  const server = httpServer as Server; // serve() makes an HTTP/1.1 server unless told otherwise
  const requestTimeout = limits.SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS;
  const headersTimeout = Math.min(limits.SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS, requestTimeout);
  server.requestTimeout = requestTimeout;
  server.headersTimeout = headersTimeout;
  server.keepAliveTimeout = limits.SWITCHYARD_HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = limits.SWITCHYARD_HTTP_MAX_CONNECTIONS;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    100,
    Math.min(1_000, Math.floor(headersTimeout / 4)),
  );
}

/** Details for the parser errors a client can fix; anything else is "not valid HTTP/1.1". */
const PARSER_DETAILS: Record<string, string> = {
  HPE_INVALID_TRANSFER_ENCODING: "The request's Transfer-Encoding is not valid: the only one accepted is chunked, last.",
  HPE_UNEXPECTED_CONTENT_LENGTH: 'The request has both Content-Length and Transfer-Encoding; send one.',
  HPE_INVALID_CONTENT_LENGTH: "The request's Content-Length is not valid (or is sent with Transfer-Encoding).",
  HPE_INVALID_CHUNK_SIZE: "The request's chunked body has an invalid chunk size.",
};

/** The 431 detail: route-neutral, plus a word on signature headers when the request line names the inbound route. */
function headersTooLargeDetail(error: Error & { rawPacket?: unknown }): string {
  const detail =
    "The request headers are larger than this server accepts (Node's limit, 16 KiB in all by default); send fewer or smaller headers.";
  // rawPacket holds the bytes of the packet being parsed: the request line when the headers came in one piece.
  const packet = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.subarray(0, 256).toString('latin1') : '';
  const target = /^[A-Z]+ (\S+) HTTP\//.exec(packet)?.[1];
  return target?.startsWith('/inbound/') ? `${detail} A PSP's signature header is a few hundred bytes.` : detail;
}

/**
 * A node:http `clientError` listener answering parser refusals with RFC 9457 problem+json:
 * `HPE_HEADER_OVERFLOW` → 431 `headers_too_large` (a word on signature headers only on `/inbound/…`),
 * `ERR_HTTP_REQUEST_TIMEOUT` → 408
 * `request_timeout`, anything else → 400 `invalid_request`. If the response has already
 * started it only destroys the socket. The connection closes after the answer; later bytes
 * are discarded for {@link LINGER_MS} so a TCP reset does not eat the answer.
 *
 * Source: https://nodejs.org/api/http.html#event-clienterror, RFC 9110 §15.5.9 (408),
 * RFC 6585 §5 (431)
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?._headerSent) {
    socket.destroy();
    return;
  }
  const [status, code, detail]: [number, ErrorCode, string] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', headersTooLargeDetail(error)]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'The request was not received in time; send the headers and the body without pauses.']
        : [400, 'invalid_request', PARSER_DETAILS[error.code ?? ''] ?? 'The request is not valid HTTP/1.1.'];
  endWith(socket, status, problemBody(code, status, detail));
}

/** Writes a problem+json answer straight to `socket`, half-closes it, and destroys it after {@link LINGER_MS}. */
function endWith(socket: Socket, status: number, problem: ReturnType<typeof problemBody>): void {
  const body = JSON.stringify(problem);
  socket.end(
    `HTTP/1.1 ${status} ${problem.title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * The detail of why @hono/node-server's `newRequest` could not build a URL for `req` (no
 * Host on HTTP/1.1, a Host that is not `host[:port]`, a bad absolute-form target, a
 * backslash in the path), or undefined when it can. Source: RFC 9112 §3.2.
 */
export function requestTargetProblem(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (host === undefined) {
    return req.httpVersion === '1.1' ? 'The request has no Host header, which HTTP/1.1 requires.' : undefined;
  }
  const target = req.url ?? '';
  const query = target.indexOf('?');
  const backslash = target.indexOf('\\');
  if (backslash !== -1 && (query === -1 || backslash < query)) return 'The request path holds a backslash.';
  if (target[0] !== '/' && /^https?:\/\//.test(target)) {
    return URL.canParse(target) ? undefined : 'The request target is not a valid absolute URL.';
  }
  let url: URL;
  try {
    url = new URL(`http://${host}${target}`);
  } catch {
    return 'The Host header is not a valid host[:port].';
  }
  // As @hono/node-server checks it: the URL's host must be the header's (no userinfo, no path).
  if (url.hostname.length !== host.length && url.hostname !== host.replace(/:\d+$/, '')) {
    return 'The Host header is not a valid host[:port].';
  }
  return undefined;
}

/**
 * Makes a `serve()`d server answer requests {@link requestTargetProblem} rejects with 400
 * problem+json `invalid_request` and `connection: close` rather than an empty 400: turns
 * off Node's `requireHostHeader` and wraps the 'request' listeners.
 *
 * Source: RFC 9112 §3.2 (Host), RFC 9110 §7.2
 */
export function answerInvalidTargets(httpServer: ServerType): void {
  const server = httpServer as Server;
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  for (const listener of server.listeners('request') as RequestListener[]) {
    server.off('request', listener);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const problem = requestTargetProblem(req);
      if (problem === undefined) return listener(req, res);
      const body = JSON.stringify(problemBody('invalid_request', 400, problem));
      res.writeHead(400, {
        'content-type': 'application/problem+json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
    });
  }
}
