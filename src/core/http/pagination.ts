import { z } from 'zod';

/** `?limit=` (1–250, default 50) and `?startingAfter=<id>`, per CONTRACT.md. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(250).default(50),
  startingAfter: z.string().min(1).max(64).optional(),
});

/** A page of a list: newest first, `hasMore` when rows remain past it. */
interface Page<T> {
  data: T[];
  hasMore: boolean;
}

/** A page from `limit + 1` rows fetched newest first: the extra row only sets `hasMore`. */
export function toPage<R, T>(rows: R[], limit: number, map: (r: R) => T): Page<T> {
  return { data: rows.slice(0, limit).map(map), hasMore: rows.length > limit };
}
