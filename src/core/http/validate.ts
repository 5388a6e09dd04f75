import type { MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import { findUnstorable, unstorableAt } from '../text.js';

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const NOT_JSON = 'The body is not valid JSON.';
/** Deepest nesting of arrays and objects in an API body; Switchyard's own bodies nest a few levels. */
const API_MAX_DEPTH = 32;
const UNSTORABLE = 'holds a NUL (U+0000) or an unpaired surrogate, which cannot be stored';

/**
 * The ValidationError (400 `invalid_request`) for a zod failure: each issue's path, message and zod code under
 * `errors`; the detail names the first issue (`startingAfter: …`), so a client that shows only the detail sees the fix.
 */
export function validationError(error: z.ZodError): ValidationError {
  const errors = error.issues.map((i) => ({
    path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: i.message,
    code: i.code,
  }));
  const first = errors[0];
  if (!first) return new ValidationError(errors);
  const where = first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more under \`errors\`)` : '';
  return new ValidationError(errors, `The request failed validation: ${where}${first.message}${more}`);
}

/**
 * Reads the body once, before @hono/zod-openapi's validator (see `defineRoute`): empty (JSON or no content-type) is `{}`;
 * else a missing or other media type, malformed JSON, a NUL or unpaired surrogate, or nesting beyond 32 levels is 400
 * `invalid_request`, naming the path where there is one.
 */
export function jsonBodyReader(): MiddlewareHandler {
  return async (c, next) => {
    const text = await c.req.text();
    const contentType = c.req.header('content-type');
    const isJson = contentType !== undefined && JSON_MEDIA_TYPE.test(contentType.split(';')[0]!.trim());
    if (text.length === 0 && (isJson || contentType === undefined)) {
      // Hono's json() parses this cached text (a promise at run time, whatever its type says); without one the validator reads {}.
      if (isJson) (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve('{}');
      return next();
    }
    if (!isJson) {
      throw new ValidationError(
        [{ path: [], message: 'Send the body as JSON with `content-type: application/json`.' }],
        'The body must be JSON, sent with `content-type: application/json`.',
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ValidationError([{ path: [], message: NOT_JSON }], NOT_JSON);
    }
    const bad = findUnstorable(parsed, API_MAX_DEPTH);
    if (bad?.kind === 'text') {
      throw new ValidationError([{ path: bad.path, message: `The value ${UNSTORABLE}.` }], `The body ${UNSTORABLE}.`);
    }
    if (bad?.kind === 'depth') {
      const detail = `The body nests arrays and objects more than ${API_MAX_DEPTH} levels deep.`;
      throw new ValidationError([{ path: bad.path, message: detail }], detail);
    }
    return next();
  };
}

/**
 * For /v1 and /admin: a path segment holding a NUL is 404 `not_found`; a query parameter holding a NUL or an unpaired
 * surrogate is 400 `invalid_request` (PostgreSQL would refuse the text: a 500).
 */
export function unstorableTextGuard(): MiddlewareHandler {
  return async (c, next) => {
    for (const segment of c.req.path.split('/')) {
      if (unstorableAt(decodeSegment(segment)) >= 0) throw new NotFoundError('The object');
    }
    for (const [name, values] of Object.entries(c.req.queries())) {
      if (unstorableAt(name) >= 0 || values.some((v) => unstorableAt(v) >= 0)) {
        const detail = `A query parameter ${UNSTORABLE}.`;
        throw new ValidationError([{ path: ['query', name], message: `The parameter ${UNSTORABLE}.` }], detail);
      }
    }
    return next();
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // not valid percent-encoded UTF-8: routes see it as literal text
  }
}
