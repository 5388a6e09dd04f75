/**
 * A value or an expected failure. Used where failure is part of the contract (a bad
 * signature, a stale PSP event, a URL we refuse), so callers must look at it; unexpected
 * failures throw an {@link AppError} instead.
 *
 * @example
 * const r = await verify(input);
 * if (!r.ok) return problem(r.error);
 */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

/** Wraps a success value. */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/** Wraps an expected failure. */
export function err<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
