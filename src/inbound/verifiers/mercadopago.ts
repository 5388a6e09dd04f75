import { fromHex, importHmacKey, utf8, verifyHmac } from '../../core/crypto.js';
import { err, ok } from '../../core/result.js';
import type { Verifier } from './types.js';

const HEADER = 'x-signature';
const REQUEST_ID_HEADER = 'x-request-id';
const MAX_HEADER_LENGTH = 4096;
const MALFORMED = `malformed ${HEADER} header: expected ts=<unix milliseconds>,v1=<64 hex characters>`;
/** A `ts` at or above this is in milliseconds (1e11 ms is March 1973; 1e11 s is year 5138). */
const MILLISECONDS_FROM = 100_000_000_000;

/**
 * Verifies a Mercado Pago webhook
 * (https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks,
 * "Validate notification origin"): `x-signature: ts=<ts>,v1=<hex>`, `v1` the HMAC-SHA256 under
 * the secret signature of `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, absent parts left
 * out, data.id lowercased (as received is tried too, as sdk-java signs it).
 *
 * `data.id` comes from `url`'s query, else the body; if both differ it is refused (the body's
 * is unsigned, yet names the stored event). `ts` is ms (or s, by magnitude), checked after
 * the signature.
 *
 * @example
 * const r = await verifyMercadoPago({ body, headers, secrets: [secretSignature], toleranceSeconds: 300, now });
 */
export const verifyMercadoPago: Verifier = async ({ body, headers, secrets, toleranceSeconds, now, url }) => {
  const header = headers[HEADER];
  if (!header) {
    return err({
      code: 'signature_missing',
      detail: `no ${HEADER} header: is this a Mercado Pago Webhooks notification (IPN and QR code notifications are not signed)?`,
    });
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return err({ code: 'signature_invalid', detail: `${MALFORMED}; it is longer than ${MAX_HEADER_LENGTH} characters` });
  }
  let ts: string | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === 'ts') {
      // Mercado Pago sends one ts; with two, which one was signed is ambiguous.
      if (ts !== undefined) return err({ code: 'signature_invalid', detail: `${MALFORMED}; it has more than one ts=` });
      ts = part.slice(eq + 1).trim();
    } else if (name === 'v1') v1.push(part.slice(eq + 1).trim());
  }
  // At most 16 digits, so Number(ts) is exact.
  if (ts === undefined || !/^\d{1,16}$/.test(ts) || v1.length === 0) {
    return err({ code: 'signature_invalid', detail: MALFORMED });
  }

  const bodyDataId = readDataId(body);
  if (bodyDataId === null) {
    return err({
      code: 'signature_invalid',
      detail: "the body's data.id is a number too large to read exactly; Mercado Pago sends it as a string",
    });
  }
  const urlDataId = readQueryDataId(url);
  if (urlDataId !== undefined && bodyDataId !== undefined && urlDataId.toLowerCase() !== bodyDataId.toLowerCase()) {
    return err({
      code: 'signature_invalid',
      detail: "the body's data.id differs from the data.id of the URL's query string, which is the one Mercado Pago signs",
    });
  }
  const dataId = urlDataId ?? bodyDataId;
  const from = urlDataId !== undefined ? "the URL's query string" : 'the JSON body';
  const requestId = headers[REQUEST_ID_HEADER]?.trim();
  const manifestFor = (id: string | undefined): string => `${id ? `id:${id};` : ''}${requestId ? `request-id:${requestId};` : ''}ts:${ts};`;
  // The docs lowercase data.id; sdk-java signs it as received. Both are tried: either way the
  // MAC must come from the secret, so accepting the second form forges nothing.
  const manifest = manifestFor(dataId?.toLowerCase());
  const manifests = dataId && dataId !== dataId.toLowerCase() ? [manifest, manifestFor(dataId)] : [manifest];

  const signatures = v1.map(fromHex).filter((s): s is Uint8Array => s?.length === 32);
  if (!(await matchesAny(secrets, signatures, manifests.map(utf8)))) {
    return err({ code: 'signature_invalid', detail: mismatchDetail(secrets, manifest, from) });
  }

  const n = Number(ts);
  const skewMs = now.getTime() - (n >= MILLISECONDS_FROM ? n : n * 1000);
  if (Math.abs(skewMs) > toleranceSeconds * 1000) {
    return err({
      code: 'timestamp_out_of_tolerance',
      detail:
        `signed ts=${ts} is ${Math.abs(skewMs) / 1000} s in the ${skewMs > 0 ? 'past' : 'future'}, ` +
        `beyond the ${toleranceSeconds} s tolerance: a replayed notification, or a server clock that is off?`,
    });
  }
  return ok({});
};

/** The `data.id` query parameter of `url`; undefined when there is no URL, no such parameter, or it is empty. */
function readQueryDataId(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  let value: string | null;
  try {
    value = new URLSearchParams(url.slice(q + 1).split('#')[0]).get('data.id');
  } catch {
    return undefined;
  }
  return value ? value : undefined;
}

/** The body's `data.id` as a string; undefined when absent, null when a number beyond 2^53. */
function readDataId(body: Uint8Array): string | undefined | null {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  const data = typeof json === 'object' && json !== null ? (json as { data?: unknown }).data : undefined;
  const id = typeof data === 'object' && data !== null ? (data as { id?: unknown }).id : undefined;
  if (typeof id === 'string') return id === '' ? undefined : id;
  if (typeof id === 'number') return Number.isSafeInteger(id) ? String(id) : null;
  return undefined;
}

function mismatchDetail(secrets: string[], manifest: string, from: string): string {
  if (!secrets.some((s) => s !== '')) return 'no signature matched: the source has no non-empty secret signature configured';
  const whitespace = secrets.some((s) => s !== s.trim()) ? '; note: a configured secret has leading or trailing whitespace, trim it' : '';
  const shown = manifest.length > 300 ? `${manifest.slice(0, 300)}…` : manifest;
  return (
    `no v1 signature matched the manifest ${shown} (data.id read from ${from}): is this ` +
    'the secret signature of this application (Your integrations → Webhooks; test and production ' +
    'differ), is the x-request-id header forwarded unchanged, or was the notification URL rewritten on the way?' +
    whitespace
  );
}

async function matchesAny(secrets: string[], signatures: Uint8Array[], manifests: Uint8Array[]): Promise<boolean> {
  // Web Crypto refuses zero-length HMAC keys; an empty secret can match nothing anyway.
  for (const secret of secrets.filter((s) => s !== '')) {
    const key = await importHmacKey(utf8(secret));
    for (const signature of signatures) {
      for (const manifest of manifests) if (await verifyHmac(key, signature, manifest)) return true;
    }
  }
  return false;
}
