/** The SQLSTATE of a postgres.js error, or undefined for anything else. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

// Classes of the server or connection failing: 08 connection, 53 resources, 57 operator intervention (timeout), 58 system.
const SERVER_FAILURE_CLASSES = new Set(['08', '53', '57', '58']);

/**
 * True when `error` ended a statement for what it held (a SQLSTATE outside classes 08, 53, 57, 58, or a parameter
 * postgres.js cannot serialise), false for connection errors and timeouts: a batch worth splitting, as refused rows fail alone.
 */
export function isStatementRefusal(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const state = sqlState(error);
  if ((error as { name?: unknown }).name === 'PostgresError' && state !== undefined && /^[0-9A-Z]{5}$/.test(state)) {
    return !SERVER_FAILURE_CLASSES.has(state.slice(0, 2));
  }
  // A client-side error before anything was sent (a value postgres.js cannot serialise).
  return error instanceof TypeError || error instanceof RangeError;
}

/**
 * `message (code)` of a database error, for a one-line log entry (a failing database would repeat a stack per request).
 * @example
 * describeFailure(error); // 'invalid byte sequence for encoding "UTF8": 0x00 (22021)'
 */
export function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = sqlState(error);
  return code ? `${message} (${code})` : message;
}
