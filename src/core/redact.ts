// Which log fields are secrets, and their redaction: shared by the Node logger (pino) and
// the Workers entry's console logger, so both hide the same names.

/** What a redacted value reads as. */
export const REDACTED = '[redacted]';

/**
 * Field names whose values never reach a log line (case-insensitive, anywhere in the name):
 * secrets (`secret`, `secrets`, `signingSecret`), signatures and their headers
 * (`stripe-signature`, `webhook-signature`, `svix-signature`, `cko-signature`,
 * `x-razorpay-signature` and every other `x-*-signature`, Adyen's `hmacSignature`), API keys
 * (`apiKey`, `api_key`, `x-api-key`), `authorization` and `proxy-authorization`, cookies,
 * tokens (`adminToken`, `SWITCHYARD_ADMIN_TOKEN`), passwords, the master key (`masterKey`,
 * `SWITCHYARD_MASTER_KEY`) and `DATABASE_URL` (it may hold a password).
 */
export const SECRET_KEY = /secret|signature|authori[sz]ation|api[-_]?key|token|password|master[-_]?key|cookie|database[-_]?url/i;

/** Levels of nesting {@link redactSecrets} looks into: a field, its object's fields, and theirs (`req.headers.authorization`). */
const REDACT_DEPTH = 3;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `fields` with the value of every key matching {@link SECRET_KEY} replaced by
 * {@link REDACTED}, at the top level and in plain objects nested up to three levels
 * (`apiKey`, `merchant.apiKey`, `req.headers["stripe-signature"]`). Arrays, Errors and other
 * class instances are not looked into: log ids, not whole objects. The input is never
 * changed; a copy is made only of objects that had something to redact.
 *
 * @example
 * redactSecrets({ sourceId: 'src_1', headers: { 'stripe-signature': 't=1,v1=ab' } });
 * // { sourceId: 'src_1', headers: { 'stripe-signature': '[redacted]' } }
 */
export function redactSecrets<T extends object>(fields: T, depth = REDACT_DEPTH): T {
  let copy: Record<string, unknown> | undefined;
  const source = fields as Record<string, unknown>;
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
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
