// Rate limit answers (README "Rate limits"): the IETF RateLimit headers and the 429 problem. Web APIs only (Workers).
import type { MiddlewareHandler } from 'hono';
import { hashApiKey } from '../auth/api-keys.js';
import { takeRateLimitAndFindApiKey } from '../auth/api-key-store.js';
import { describeFailure } from '../db/errors.js';
import type { AppEnv } from '../deps.js';
import { problemBody, problemResponse } from '../http/problem.js';
import { requestLog } from '../http/request-context.js';
import type { RateLimitTake } from './rate-limit-store.js';

/** A named limit: `perSecond` on average, `burst` at once (GCRA). */
export interface RateLimitPolicy {
  /** The policy's name in the headers, e.g. `api`. */
  name: string;
  perSecond: number;
  burst: number;
}

/**
 * The `RateLimit-Policy` and `RateLimit` headers of draft-ietf-httpapi-ratelimit-headers (-08 and later, structured
 * fields): `"api";q=200;w=2` (a quota of `burst` units per the whole seconds a burst takes to come back) and
 * `"api";r=<units left>;t=<seconds until the burst is whole>`; refused, `t` is the seconds until the next unit and
 * `Retry-After` (RFC 9110 §10.2.3) says the same.
 */
export function rateLimitHeaders(policy: RateLimitPolicy, take: RateLimitTake): Record<string, string> {
  const window = Math.max(1, Math.ceil(policy.burst / policy.perSecond));
  const headers: Record<string, string> = {
    'ratelimit-policy': `"${policy.name}";q=${policy.burst};w=${window}`,
  };
  if (take.allowed) {
    headers.ratelimit = `"${policy.name}";r=${take.remaining};t=${Math.ceil(take.resetMs / 1000)}`;
  } else {
    const retryAfter = Math.max(1, Math.ceil(take.retryAfterMs / 1000));
    headers.ratelimit = `"${policy.name}";r=0;t=${retryAfter}`;
    headers['retry-after'] = String(retryAfter);
  }
  return headers;
}

/** 429 `rate_limited` problem+json with the {@link rateLimitHeaders} (Retry-After among them). */
export function rateLimitedResponse(policy: RateLimitPolicy, take: RateLimitTake, detail: string): Response {
  return problemResponse(problemBody('rate_limited', 429, detail), rateLimitHeaders(policy, take));
}

function bearer(header: string | undefined): string | undefined {
  return header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
}

/**
 * Per API key limit on `/v1/*` (SWITCHYARD_API_RATE_PER_SECOND, SWITCHYARD_API_RATE_BURST), keyed on the SHA-256 of the
 * presented bearer token, so it runs before authentication and never stores the token. Every answer carries the
 * RateLimit headers; past the limit 429 `rate_limited` with Retry-After, the route not run. The state is in
 * PostgreSQL, so the limit holds across processes. The same statement reads the key the token hashes to
 * (`takeRateLimitAndFindApiKey`) and leaves it in `c.var.apiKeyLookup` for `requireMerchant`: one round trip for
 * both. Mount it ahead of the audit trail, so the take runs on a pooled connection of its own, is never rolled back
 * with a refused request, and holds no row lock for the request's length. A request without a bearer token passes
 * (authentication answers 401); if the database cannot answer, the request passes, the failure is logged, and
 * `requireMerchant` reads the key itself.
 * @example
 * app.use('/v1/*', apiRateLimit());
 * app.use('/v1/*', auditTrail(routes));
 * v1.use('*', requireMerchant(routes));
 */
export function apiRateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    if (token === undefined) return next();
    const { sql, clock, config } = c.var.deps;
    const policy: RateLimitPolicy = {
      name: 'api',
      perSecond: config.SWITCHYARD_API_RATE_PER_SECOND,
      burst: config.SWITCHYARD_API_RATE_BURST,
    };
    const keyHash = await hashApiKey(token);
    let take: RateLimitTake;
    try {
      const found = await takeRateLimitAndFindApiKey(sql, keyHash, clock(), policy.perSecond, policy.burst);
      take = found.take;
      c.set('apiKeyLookup', { keyHash, key: found.key });
    } catch (error) {
      requestLog(c).error({ reason: describeFailure(error) }, 'rate limit not checked');
      return next();
    }
    const headers = rateLimitHeaders(policy, take);
    if (!take.allowed) {
      return rateLimitedResponse(
        policy,
        take,
        `This API key sent more than ${policy.burst} requests at once or ${policy.perSecond} a second; retry after ${headers['retry-after']} s.`,
      );
    }
    // Set before next(), so a Response a handler builds itself gets them too (Hono merges c.header into it)…
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
    // …and again on an error's answer, which onError builds afresh.
    if (!c.res.headers.has('ratelimit')) {
      for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    }
  };
}
