import { concatBytes, fromHex, utf8 } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import { matchesAnyKey, whitespaceHint } from './hmac.js';
import type { Verifier } from './types.js';

const MAX_HEADER_LENGTH = 4096;
const MALFORMED = 'malformed stripe-signature header: expected t=<unix seconds>,v1=<hex>[,v1=<hex>…]';

/**
 * Verifies a Stripe webhook (https://docs.stripe.com/webhooks#verify-manually):
 * `stripe-signature: t=<unix seconds>,v1=<hex>…`, each `v1` the HMAC-SHA256 under the whole
 * `whsec_…` secret of `${t}.` + the body; any `v1` under any secret may match. The signature is
 * checked first (as stripe-node), so `timestamp_out_of_tolerance` (|now − t| > tolerance, s)
 * means a genuine event. Returns `ok({})`: the event id is in the body.
 */
export const verifyStripe: Verifier = async ({ body, headers, secrets, toleranceSeconds, now }) => {
  const header = headers['stripe-signature'];
  if (!header) {
    return err({
      code: 'signature_missing',
      detail: 'no stripe-signature header: is this request from Stripe, and does every proxy on the way forward the header?',
    });
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return err({ code: 'signature_invalid', detail: `${MALFORMED}; it is longer than ${MAX_HEADER_LENGTH} characters` });
  }
  let t: string | undefined;
  const v1: string[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const name = item.slice(0, eq);
    if (name === 't') {
      // Stripe sends one t; with two, which one was signed is ambiguous.
      if (t !== undefined) return err({ code: 'signature_invalid', detail: `${MALFORMED}; it has more than one t=` });
      t = item.slice(eq + 1);
    } else if (name === 'v1') v1.push(item.slice(eq + 1));
  }
  if (t === undefined || !/^\d+$/.test(t) || v1.length === 0) {
    return err({ code: 'signature_invalid', detail: MALFORMED });
  }

  const signatures = v1.map(fromHex).filter((s) => s !== undefined);
  // Web Crypto refuses zero-length HMAC keys; an empty secret can match nothing anyway.
  const keys = secrets.filter((s) => s !== '').map(utf8);
  if (!(await matchesAnyKey(keys, signatures, concatBytes(utf8(`${t}.`), body)))) {
    const whitespace = whitespaceHint(secrets);
    // Stripe keys the HMAC with the whole whsec_… string; Standard Webhooks decodes it instead.
    const prefix = secrets.some((s) => s.trim() !== '' && !s.trim().startsWith('whsec_'))
      ? '; note: a configured secret does not start with whsec_: Stripe signs with the whole whsec_… string, prefix included'
      : '';
    return err({
      code: 'signature_invalid',
      detail:
        'no v1 signature matched: was the body re-serialised (verify the raw bytes), or is this the signing ' +
        `secret of another endpoint (test and live mode differ, and \`stripe listen\` has its own)?${whitespace}${prefix}`,
    });
  }

  const skew = Math.floor(now.getTime() / 1000) - Number(t);
  if (Math.abs(skew) > toleranceSeconds) {
    return err({
      code: 'timestamp_out_of_tolerance',
      detail:
        `signed timestamp t=${t} is ${Math.abs(skew)} s in the ${skew > 0 ? 'past' : 'future'}, ` +
        `beyond the ${toleranceSeconds} s tolerance: a replayed event, or a server clock that is off?`,
    });
  }
  return ok({});
};
