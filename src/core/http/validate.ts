import type { Context } from 'hono';
import type { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * Parses `input` with a zod schema; throws ValidationError (400 `invalid_request`, the zod
 * issues under `errors`) when it does not fit.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    throw new ValidationError(
      r.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message, code: i.code })),
    );
  }
  return r.data;
}

/** The JSON body parsed by `schema`. Not JSON, or not an object → 400 `invalid_request`. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  const text = await c.req.text();
  try {
    body = text.length === 0 ? {} : JSON.parse(text);
  } catch {
    throw new ValidationError([{ path: [], message: 'The body is not valid JSON.' }], 'The body is not valid JSON.');
  }
  return parseWith(schema, body);
}

/** The query string parsed by `schema` (values are strings; use z.coerce for numbers). */
export function queryParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  return parseWith(schema, c.req.query());
}
