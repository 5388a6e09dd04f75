// Per-request context (deps, request id, bound logger) and one access line; no node-only imports, so both entries mount it.
import type { Context, MiddlewareHandler } from 'hono';
import { newId } from '../ids.js';
import type { AppEnv, Deps, Log } from '../deps.js';

// Probes answered often and uneventfully; their access lines go at debug, not info.
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Sets `c.var.deps`, `c.var.requestId` (the caller's `x-request-id`, at most 64 characters, else a new `req_…`) and
 * `c.var.log`, echoes `x-request-id`, and logs one access line `{ method, path, status, durationMs }`: no query string
 * (it may carry tokens), headers or body.
 * @example
 * app.use('*', requestContext(() => deps));
 */
export function requestContext<E extends AppEnv>(depsOf: (c: Context<E>) => Deps): MiddlewareHandler<E> {
  return async (c, next) => {
    const started = performance.now();
    const deps = depsOf(c);
    const requestId = c.req.header('x-request-id')?.slice(0, 64) ?? newId('req');
    const log = deps.logger.child({ requestId });
    c.set('deps', deps);
    c.set('requestId', requestId);
    c.set('log', log);
    // Set before next(): set after, Hono copies the whole response to add one header.
    c.header('x-request-id', requestId);
    await next();
    if (!c.res.headers.has('x-request-id')) c.header('x-request-id', requestId); // a Response the handler built itself
    const status = c.res.status;
    const line = { method: c.req.method, path: c.req.path, status, durationMs: Math.round((performance.now() - started) * 10) / 10 };
    if (status < 400 && PROBES.has(c.req.path)) log.debug(line, 'request');
    else log.info(line, 'request');
  };
}

/** The request's logger: `c.var.log`, else (no {@link requestContext} mounted) `deps.logger` bound to the request id. */
export function requestLog(c: Context<AppEnv>): Log {
  const log = c.get('log') as Log | undefined;
  if (log) return log;
  const requestId = c.get('requestId') as string | undefined;
  const logger = (c.get('deps') as Deps | undefined)?.logger;
  if (!logger) return SILENT;
  return requestId ? logger.child({ requestId }) : logger;
}

const SILENT: Log = { info() {}, warn() {}, error() {}, debug() {}, child: () => SILENT };
