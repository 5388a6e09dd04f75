import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { ValidationError } from '../errors.js';

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const NOT_JSON = 'The body is not valid JSON.';

/**
 * The ValidationError (400 `invalid_request`, the issues under `errors`) for a zod failure:
 * each issue's path into the input, message and zod code.
 */
export function validationError(error: z.ZodError): ValidationError {
  return new ValidationError(
    error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message, code: i.code })),
  );
}

/**
 * Parses `input` with a zod schema; throws ValidationError (400 `invalid_request`, the zod
 * issues under `errors`) when it does not fit.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationError(r.error);
  return r.data;
}

/**
 * Route middleware placed before @hono/zod-openapi's body validator (see `defineRoute` in
 * openapi.ts) so that every JSON body is judged alike: an empty body is
 * `{}`, malformed JSON is 400 `invalid_request` with an `errors` entry, and a body (even an
 * empty one) sent as another media type, or a body without a content-type, is 400
 * `invalid_request` (not Hono's bare 415, nor silently read as `{}`). The body is read once here and cached on the request, so the
 * validator that runs next parses the same bytes. A request with neither a body nor a
 * content-type is read as `{}`.
 */
export function jsonBodyReader(): MiddlewareHandler {
  return async (c, next) => {
    const text = await c.req.text();
    const contentType = c.req.header('content-type');
    const isJson = contentType !== undefined && JSON_MEDIA_TYPE.test(contentType.split(';')[0]!.trim());
    if (text.length === 0 && (isJson || contentType === undefined)) {
      // Hono's json() parses the cached text (a promise at run time, whatever its type
      // says): an empty body reads as {}. With no content-type the validator reads {} itself.
      if (isJson) (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve('{}');
      return next();
    }
    if (!isJson) {
      throw new ValidationError(
        [{ path: [], message: 'Send the body as JSON with `content-type: application/json`.' }],
        'The body must be JSON, sent with `content-type: application/json`.',
      );
    }
    try {
      JSON.parse(text);
    } catch {
      throw new ValidationError([{ path: [], message: NOT_JSON }], NOT_JSON);
    }
    return next();
  };
}
