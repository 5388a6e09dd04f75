// (node) The fetch of the payments API's PSP calls in the Node runtime (Deps.pspFetch).
import { fetch as undiciFetch, type Dispatcher } from 'undici';

/**
 * A `fetch` for PSP calls through `dispatcher`, the SSRF-guarded Agent of
 * src/outbound/ssrf.ts: forbidden addresses are refused at connect time (rebinding-proof),
 * rejecting with a `TypeError` whose `cause` has code `ERR_SSRF_BLOCKED`. Redirects are
 * never followed. Throws a TypeError when given a Request. Uses undici 7's `fetch`: Node
 * 20's global one bundles undici 6, whose handlers the Agent does not accept.
 *
 * @example
 * const deps = { ...rest, pspFetch: guardedPspFetch(createGuardedAgent({ allowPrivate: false })) };
 */
export function guardedPspFetch(dispatcher: Dispatcher): typeof fetch {
  const guarded = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (typeof input !== 'string' && !(input instanceof URL)) {
      // A global Request would carry its own body and signal types; PSP calls pass a URL.
      throw new TypeError('guardedPspFetch takes a URL and an init, not a Request');
    }
    const call = { ...(init as object), dispatcher, redirect: 'manual' } as Parameters<typeof undiciFetch>[1];
    return undiciFetch(input, call) as unknown as Promise<Response>;
  };
  return guarded as typeof fetch;
}
