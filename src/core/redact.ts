// Which log fields are secrets, shared by the Node logger (pino) and the Workers console logger so both hide the same.

/** What a redacted value reads as. */
export const REDACTED = '[redacted]';

/** Field names whose values never reach a log line (case-insensitive, anywhere in the name); `DATABASE_URL` may hold a password. */
export const SECRET_KEY = /secret|signature|authori[sz]ation|api[-_]?key|token|password|master[-_]?key|cookie|database[-_]?url/i;

/** Levels of nesting {@link redactSecrets} looks into: a field, its object's fields, and theirs (`req.headers.authorization`). */
const REDACT_DEPTH = 3;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `fields` with every key matching {@link SECRET_KEY} set to {@link REDACTED}, in plain objects up to `depth` levels deep
 * (not arrays or class instances). The input is never changed; only objects with something to redact are copied.
 * @example
 * redactSecrets({ headers: { 'stripe-signature': 't=1,v1=ab' } }); // { headers: { 'stripe-signature': '[redacted]' } }
 */
export function redactSecrets<T extends object>(fields: T, depth = REDACT_DEPTH): T {
  let copy: Record<string, unknown> | undefined;
  const source = fields as Record<string, unknown>;
  for (const key in source) {
    if (!Object.hasOwn(source, key)) continue;
    const value = source[key];
    let next = value;
    if (SECRET_KEY.test(key)) next = value === undefined ? value : REDACTED;
    else if (depth > 1 && isPlainObject(value)) next = redactSecrets(value, depth - 1);
    if (next !== value) {
      copy ??= { ...source };
      copy[key] = next;
    }
  }
  return (copy ?? fields) as T;
}
