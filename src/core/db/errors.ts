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
