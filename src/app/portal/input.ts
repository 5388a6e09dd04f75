// Parsing what a portal form or query string sent, with the same zod schemas as the API where there is one.
import type { z } from 'zod';
import { ValidationError } from '../../core/errors.js';

/** Parses `value` with `schema`; a mismatch is 400 with zod's issues on the error page. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message })),
      'Some of what you entered is not valid.',
    );
  }
  return parsed.data;
}
