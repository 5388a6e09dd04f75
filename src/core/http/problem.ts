import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError, type ErrorCode, type ValidationIssue } from '../errors.js';
import type { AppEnv } from '../deps.js';
import { requestLog } from './request-context.js';

/** An RFC 9457 problem details body with Switchyard's stable `code`. */
interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: ValidationIssue[];
}

/** Reason phrases of the 4xx and 5xx statuses (RFC 9110 §15.5–15.6; 429 and 431 from RFC 6585). */
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The problem body for an error code. `type` is a stable URI naming the code. */
export function problemBody(code: ErrorCode, status: number, detail: string, errors?: ValidationIssue[]): Problem {
  return {
    type: `https://switchyard.dev/problems/${code.replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

/** An `application/problem+json` Response (RFC 9457), built by hand rather than with `c.json` so the media type is exact. */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

/**
 * Whether the client went away: Node's body-read error (ECONNRESET with message 'aborted'; a bare ECONNRESET may be a
 * database or PSP socket), an aborted IncomingMessage, or an aborted request signal.
 */
function isClientAbort(error: Error & { code?: unknown }, c: Context<AppEnv>): boolean {
  if (error.code === 'ECONNRESET' && error.message === 'aborted') return true;
  const incoming = (c.env as { incoming?: { aborted?: boolean; destroyed?: boolean; complete?: boolean } } | undefined)?.incoming;
  // On Node, reading the signal would build the whole Web Request (and its body stream) now.
  if (incoming) return incoming.aborted === true || (incoming.destroyed === true && incoming.complete === false);
  try {
    return c.req.raw.signal?.aborted === true;
  } catch {
    return false;
  }
}

/**
 * A PostgresError refusing text: 22021 (NUL, invalid UTF-8) or 22P05 (jsonb `\u0000`, unpaired surrogate); checked by
 * shape so postgres need not load. Source: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
function isUnstorableText(error: Error & { code?: unknown }): boolean {
  return error.name === 'PostgresError' && (error.code === '22021' || error.code === '22P05');
}

/** The message of an error's `cause`, for a log line. */
function causeOf(error: Error): string | undefined {
  const cause = error.cause;
  return cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause);
}

/**
 * Hono `onError`: AppError → its problem (5xx logged in one line); a 4xx HTTPException, a client abort or unstorable text
 * → 400 `invalid_request`; anything else → 500 `internal_error`, the error itself only in the request's log.
 */
export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof AppError) {
    // A fault of ours the client cannot fix: one line for the operator, the cause's message, no stack.
    if (error.status >= 500) requestLog(c).error({ code: error.code, reason: causeOf(error) }, error.message);
    return problemResponse(problemBody(error.code, error.status, error.message, error.errors));
  }
  if (error instanceof HTTPException && error.status < 500) {
    return problemResponse(problemBody('invalid_request', 400, error.message || 'The request is malformed.'));
  }
  if (isClientAbort(error, c)) {
    requestLog(c).info({ method: c.req.method, path: c.req.path }, 'client aborted the request');
    return problemResponse(problemBody('invalid_request', 400, 'The request was aborted before its body was received.'));
  }
  if (isUnstorableText(error)) {
    requestLog(c).info({ code: (error as { code?: unknown }).code }, 'request text cannot be stored');
    return problemResponse(
      problemBody('invalid_request', 400, 'The request holds text PostgreSQL cannot store: a NUL (U+0000) or an unpaired surrogate.'),
    );
  }
  requestLog(c).error({ err: error }, 'unhandled error');
  return problemResponse(problemBody('internal_error', 500, 'Something went wrong on our side. It has been logged.'));
}
