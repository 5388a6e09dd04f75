// (node) The fetch of the payments API's PSP calls in the Node runtime (Deps.pspFetch).
import { fetch as undiciFetch, type Dispatcher } from 'undici';

/**
 * A `fetch` for PSP calls that goes through `dispatcher`, the SSRF-guarded undici Agent of
 * src/outbound/ssrf.ts (`createGuardedAgent`): every connection is refused with an
 * `SsrfBlockedError` (code `ERR_SSRF_BLOCKED`, in the `cause` of fetch's `TypeError`) when
 * the host is a forbidden address or resolves to one, at connect time, so DNS rebinding and
 * a source `apiBaseUrl` stored before it was checked cannot reach loopback, private
 * networks or the cloud metadata service with the PSP API key. Redirects are never followed
 * (`redirect: 'manual'` whatever the caller asks: a 3xx is the answer).
 *
 * undici 7's own `fetch`, not the global one: Node 20's global fetch bundles undici 6,
 * whose dispatch handler interface differs from the undici 7 Agent's.
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
