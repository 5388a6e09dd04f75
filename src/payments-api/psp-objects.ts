/**
 * Verify or fetch (README "Verify or fetch"): reads a `trust: fetch` source's objects back from its PSP, through
 * the connectors' client (connectors/http.ts: https only, the SSRF-guarded fetch, a timeout, no redirects) with
 * the source's API key. Stripe only: Adyen documents no API that returns a payment's state.
 */
import type { Deps } from '../core/deps.js';
import type { PspObjectRead, PspObjectReader, PspObjectRef, PspObjectType } from '../core/psp-objects.js';
import { loadSourceCredentials, type SourceCredentials } from './connectors/credentials.js';
import { baseUrl, pspFetch, unknownFor } from './connectors/http.js';
import { DEFAULT_PSP_TIMEOUT_MS } from './connectors/index.js';
import { STRIPE_API_BASE } from './connectors/stripe.js';
import type { ConnectorOptions } from './connectors/types.js';

// https://docs.stripe.com/api/payment_intents/retrieve, /charges/retrieve, /refunds/retrieve, /disputes/retrieve
const STRIPE_PATHS: Record<PspObjectType, string> = {
  payment_intent: 'payment_intents',
  charge: 'charges',
  refund: 'refunds',
  dispute: 'disputes',
};

/** Reads running at once per source: a group's events come in together, a PSP's rate limit is per account. */
const CONCURRENT_READS = 4;

/** The Stripe error object's fields a reason quotes (https://docs.stripe.com/api/errors). */
interface StripeErrorBody {
  error?: { code?: string; message?: string; type?: string };
}

/** One Stripe object read: `found` only for an object of the asked type and id. */
async function readStripeObject(creds: SourceCredentials, options: ConnectorOptions, ref: PspObjectRef): Promise<PspObjectRead> {
  const url = `${baseUrl(creds.apiBaseUrl, STRIPE_API_BASE)}/v1/${STRIPE_PATHS[ref.type]}/${encodeURIComponent(ref.id)}`;
  const r = await pspFetch(options, url, { method: 'GET', headers: { authorization: `Bearer ${creds.apiKey.reveal()}` } });
  if (r.kind === 'unknown') return { kind: 'unavailable', reason: `reading ${ref.type} ${ref.id} from Stripe: ${r.reason}` };
  if (r.kind === 'rejected') return { kind: 'refused', reason: r.message };
  const err = (r.body as StripeErrorBody | null)?.error;
  // Stripe masks keys it quotes ("Invalid API Key provided: sk_test_****1234"); the reason is stored, so mask anything key-like again
  const message = err?.message?.replace(/\b(sk|rk|pk)_[A-Za-z0-9_*]+/g, '$1_[redacted]').slice(0, 300);
  const said = err ? `: ${err.code ?? err.type ?? 'error'}${message ? ` (${message})` : ''}` : '';
  if (r.status === 404) return { kind: 'not_found', reason: `Stripe does not know ${ref.type} ${ref.id} (404${said})` };
  if (unknownFor(r.status)) return { kind: 'unavailable', reason: `reading ${ref.type} ${ref.id}: Stripe answered ${r.status}${said}` };
  if (r.status < 200 || r.status >= 300) {
    return { kind: 'refused', reason: `Stripe refused to read ${ref.type} ${ref.id} (${r.status}${said})` };
  }
  const body = r.body as { object?: unknown; id?: unknown } | null;
  if (body?.object !== ref.type || body.id !== ref.id) {
    return { kind: 'refused', reason: `Stripe answered the read of ${ref.type} ${ref.id} with another object` };
  }
  return { kind: 'found', object: body };
}

/**
 * The {@link PspObjectReader} of the Node runtime: loads the source's credentials once (a source without an API
 * key, or of a provider without an object API, is `refused` for every ref), then reads the refs a few at a time.
 */
export const readPspObjects: PspObjectReader = async (deps: Deps, source, refs, options = {}) => {
  if (refs.length === 0) return [];
  const creds = await loadSourceCredentials(deps.sql, deps.secretBox, source.merchantId, source.sourceId);
  const refuseAll = (reason: string): PspObjectRead[] => refs.map(() => ({ kind: 'refused', reason }));
  if (!creds.ok) {
    return refuseAll(
      creds.error === 'no_api_key' ? 'the source has no apiKey to read the PSP with' : `the source cannot read its PSP (${creds.error})`,
    );
  }
  if (creds.value.provider !== 'stripe') return refuseAll(`${creds.value.provider} documents no API to read a payment's state`);
  const f = options.fetch ?? deps.pspFetch;
  const connector: ConnectorOptions = {
    timeoutMs: options.timeoutMs ?? DEFAULT_PSP_TIMEOUT_MS,
    allowHttp: deps.config.SWITCHYARD_ALLOW_PRIVATE_URLS,
    ...(f ? { fetch: f } : {}),
  };
  const out: PspObjectRead[] = new Array(refs.length);
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < refs.length) {
      const i = nextIndex++;
      out[i] = await readStripeObject(creds.value, connector, refs[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_READS, refs.length) }, worker));
  return out;
};
