import type { ConnectorOptions, PspResult } from './types.js';

/** A PSP's HTTP answer (body as JSON, else capped text), `unknown`, or never sent: `rejected` `url_not_allowed`. */
type PspHttp =
  | { kind: 'response'; status: number; body: unknown }
  | { kind: 'unknown'; reason: string }
  | Extract<PspResult, { kind: 'rejected' }>;

/** `PspResult.code` of a call that was not sent because the source's `apiBaseUrl` is not allowed (docs/http-api.md "Payments"). */
export const URL_NOT_ALLOWED = 'url_not_allowed';

const notAllowed = (why: string): PspHttp => ({
  kind: 'rejected',
  httpStatus: 0,
  code: URL_NOT_ALLOWED,
  message: `the source apiBaseUrl is not allowed: ${why}`,
});

/**
 * The message of an `ERR_SSRF_BLOCKED` error in `error`'s cause / AggregateError chain, or
 * undefined. Matched by code: this room does not import src/outbound.
 */
function ssrfBlock(error: unknown): string | undefined {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0) {
    const e = queue.shift();
    if (!(e instanceof Error) || seen.has(e)) continue;
    seen.add(e);
    if ((e as { code?: unknown }).code === 'ERR_SSRF_BLOCKED') return e.message;
    if (e instanceof AggregateError) queue.push(...(e.errors as unknown[]));
    queue.push(e.cause);
  }
  return undefined;
}

/**
 * Sends one request over `options.fetch` (in Node the SSRF-guarded one of
 * src/app/node/psp-fetch.ts), timing out after `options.timeoutMs` ms, no redirects. Any
 * answer is a `response`; timeout or network error is `unknown`. A URL that is not https
 * (http with `allowHttp`) or that the guard refuses is `rejected` {@link URL_NOT_ALLOWED}.
 */
export async function pspFetch(
  options: ConnectorOptions,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<PspHttp> {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase();
  if (scheme !== 'https:' && !(options.allowHttp && scheme === 'http:')) {
    return notAllowed(
      options.allowHttp ? 'it must be an http or https URL' : 'it must be https; http only with SWITCHYARD_ALLOW_PRIVATE_URLS=true',
    );
  }
  const f = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (error) {
    const blocked = ssrfBlock(error);
    if (blocked !== undefined) return notAllowed(blocked);
    const name = (error as { name?: string }).name;
    return {
      kind: 'unknown',
      reason: name === 'TimeoutError' || name === 'AbortError' ? `timeout after ${options.timeoutMs} ms` : 'network error',
    };
  }
  let text: string;
  try {
    text = await res.text();
  } catch {
    return { kind: 'unknown', reason: 'the answer was cut off' };
  }
  let body: unknown = text.slice(0, 4096);
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { kind: 'response', status: res.status, body };
}

/** `unknown` for the statuses after which the PSP may have acted or asks us to come back (5xx, 429). */
export function unknownFor(status: number): PspResult | undefined {
  if (status >= 500 || status === 429) return { kind: 'unknown', reason: `PSP answered ${status}` };
  return undefined;
}

/** The source's `apiBaseUrl` override or the PSP's default, without a trailing slash (unchecked). */
export function baseUrl(override: string | null, fallback: string): string {
  return (override ?? fallback).replace(/\/+$/, '');
}
