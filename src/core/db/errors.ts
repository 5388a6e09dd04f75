/** SQLSTATE codes Switchyard reacts to. Source: PostgreSQL manual, Appendix A. */
export const SQLSTATE = {
  uniqueViolation: '23505',
  checkViolation: '23514',
  restrictViolation: '23001',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

/** The SQLSTATE of a postgres.js error, or undefined for anything else. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

// SQLSTATE classes of a server or connection failing, whatever the statement held:
// 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown,
// cancel, statement timeout), 58 system error. Source: PostgreSQL manual, Appendix A.
const SERVER_FAILURE_CLASSES = new Set(['08', '53', '57', '58']);

/**
 * True when `error` ended a statement because of what it held rather than because the
 * database or the connection failed: PostgreSQL refused it (a constraint, a trigger, text it
 * cannot store; any SQLSTATE outside classes 08, 53, 57 and 58), or the client could not
 * serialise a parameter. False for connection errors (postgres.js `CONNECTION_*`,
 * `CONNECT_TIMEOUT`, Node's `E…` socket codes) and timeouts. Used to decide whether a failed
 * batch is worth splitting: what the database refused once it refuses again, alone.
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
 * `message (code)` of a database or connection error, for a one-line log entry: no stack,
 * which a failing database would repeat for every request and job.
 *
 * @example
 * log.error({ reason: describeFailure(error) }, 'inbound event could not be stored');
 * // reason: 'invalid byte sequence for encoding "UTF8": 0x00 (22021)'
 */
export function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = sqlState(error);
  return code ? `${message} (${code})` : message;
}
