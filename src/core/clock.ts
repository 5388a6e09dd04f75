/** A source of the current time, injected so tests can fix it. */
export type Clock = () => Date;

/** The real clock. */
export const systemClock: Clock = () => new Date();

/** A clock stopped at `at` (a Date or ISO 8601 string); for tests. */
export function fixedClock(at: Date | string): Clock {
  const t = new Date(at);
  return () => new Date(t);
}
