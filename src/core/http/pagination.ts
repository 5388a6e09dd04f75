import { z } from '@hono/zod-openapi';
import { isId, type IdPrefix } from '../ids.js';

/**
 * `?limit=` (1–250, default 50) and `?startingAfter=<id>` of a list whose items' ids carry `prefix`. A cursor that is
 * not such an id (`zzz`, another list's `ep_…`) is 400 `invalid_request` naming `startingAfter`: compared as text it
 * would silently return the first page. A well-formed id that no longer exists still pages from its position.
 */
export function pageQuery(
  prefix: IdPrefix,
): z.ZodObject<{ limit: z.ZodDefault<z.ZodCoercedNumber<unknown>>; startingAfter: z.ZodOptional<z.ZodString> }> {
  return z.object({
    limit: z.coerce.number().int().min(1).max(250).default(50),
    startingAfter: z
      .string()
      .refine((s) => isId(prefix, s), {
        message: `must be the id of an item of this list (${prefix}_ and 32 hex digits): the last id of the previous page.`,
      })
      .optional()
      .openapi({ description: `The last \`id\` (\`${prefix}_…\`) of the previous page.` }),
  });
}

/** A page of a list: newest first, `hasMore` when rows remain past it. */
interface Page<T> {
  data: T[];
  hasMore: boolean;
}

/** A page from `limit + 1` rows fetched newest first: the extra row only sets `hasMore`. */
export function toPage<R, T>(rows: R[], limit: number, map: (r: R) => T): Page<T> {
  return { data: rows.slice(0, limit).map(map), hasMore: rows.length > limit };
}
