import { concatBytes, fromBase64, utf8 } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import { MAX_SIGNATURE_HEADER_LENGTH, matchesAnyKey } from './hmac.js';
import type { Verifier } from './types.js';

/**
 * Verifies a Standard Webhooks callback
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
 * `webhook-id`, `webhook-timestamp` (unix seconds), `webhook-signature` (space-separated
 * `v1,<base64>`), or their `svix-*` aliases; each `v1` is the HMAC-SHA256 under the decoded
 * `whsec_<base64>` secret of `${id}.${timestamp}.` + the body. The signature is checked before
 * the timestamp. Returns `ok({ eventId: webhook-id })`.
 */
export const verifyStandardWebhooks: Verifier = async ({ body, headers, secrets, toleranceSeconds, now }) => {
  const header = (name: 'id' | 'timestamp' | 'signature'): string | undefined => headers[`webhook-${name}`] || headers[`svix-${name}`];
  const [id, timestamp, signature] = [header('id'), header('timestamp'), header('signature')];
  if (!id || !timestamp || !signature) {
    const missing = !id ? 'id' : !timestamp ? 'timestamp' : 'signature';
    return err({
      code: 'signature_missing',
      detail: `no webhook-${missing} header (svix-${missing} is also accepted): is this a Standard Webhooks sender?`,
    });
  }
  if (signature.length > MAX_SIGNATURE_HEADER_LENGTH) {
    return err({
      code: 'signature_invalid',
      detail: `malformed webhook-signature header: it is longer than ${MAX_SIGNATURE_HEADER_LENGTH} characters`,
    });
  }
  if (!/^\d+$/.test(timestamp)) {
    return err({ code: 'signature_invalid', detail: 'malformed webhook-timestamp header: expected integer unix seconds' });
  }

  const signatures = signature.split(' ').flatMap((entry) => {
    const bytes = entry.startsWith('v1,') ? fromBase64(entry.slice('v1,'.length)) : undefined;
    return bytes ? [bytes] : [];
  });
  const keys: Uint8Array[] = [];
  const undecodable: number[] = [];
  secrets.forEach((secret, i) => {
    const key = fromBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
    if (key && key.length > 0) keys.push(key);
    else undecodable.push(i + 1);
  });
  if (!(await matchesAnyKey(keys, signatures, concatBytes(utf8(`${id}.${timestamp}.`), body)))) {
    const encoding = undecodable.length
      ? `; note: these secrets are not whsec_<base64> (whitespace, or a truncated copy?): #${undecodable.join(', #')}`
      : '';
    return err({
      code: 'signature_invalid',
      detail:
        'no v1 signature matched: was the body re-serialised (verify the raw bytes), ' +
        `or is this the signing secret of another endpoint?${encoding}`,
    });
  }

  const skew = Math.floor(now.getTime() / 1000) - Number(timestamp);
  if (Math.abs(skew) > toleranceSeconds) {
    return err({
      code: 'timestamp_out_of_tolerance',
      detail:
        `webhook-timestamp ${timestamp} is ${Math.abs(skew)} s in the ${skew > 0 ? 'past' : 'future'}, ` +
        `beyond the ${toleranceSeconds} s tolerance: a replayed message, or a server clock that is off?`,
    });
  }
  return ok({ eventId: id });
};
