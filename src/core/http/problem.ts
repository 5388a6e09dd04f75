import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError, type ErrorCode, type ValidationIssue } from '../errors.js';
import type { AppEnv } from './env.js';
import { requestLog } from './request-context.js';

/** An RFC 9457 problem details body with Switchyard's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: ValidationIssue[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
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

/**
 * An `application/problem+json` Response (RFC 9457). Built by hand rather than with
 * `c.json` so the media type is exactly the RFC's.
 */
export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

/**
 * Hono `onError`: AppError → its problem; Hono's HTTPException (e.g. a malformed JSON body)
 * → 400 invalid_request; anything else → 500 internal_error with no detail from the error
 * itself (it goes to the request's log, `c.var.log`, so the line carries the request id).
 */
export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof AppError) {
    return problemResponse(problemBody(error.code, error.status, error.message, error.errors));
  }
  if (error instanceof HTTPException && error.status < 500) {
    return problemResponse(problemBody('invalid_request', 400, error.message || 'The request is malformed.'));
  }
  requestLog(c).error({ err: error }, 'unhandled error');
  return problemResponse(problemBody('internal_error', 500, 'Something went wrong on our side. It has been logged.'));
}
