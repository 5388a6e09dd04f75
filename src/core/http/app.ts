// (node) The full Node app: it mounts the endpoint routes, whose SSRF guard resolves DNS
// with node:dns. The Workers entry mounts only the inbound and health routes.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { ingestRoutes } from '../../inbound/routes/ingest.js';
import { inboundEventRoutes } from '../../inbound/routes/inbound-events.js';
import { sourceRoutes } from '../../inbound/routes/sources.js';
import { endpointRoutes } from '../../outbound/routes/endpoints.js';
import { eventRoutes } from '../../outbound/routes/events.js';
import { requireMerchant } from '../auth/middleware.js';
import type { AppEnv, Deps } from './env.js';
import { createRouter, mountApiReference } from './openapi.js';
import { onError, problemBody, problemResponse } from './problem.js';
import { requestContext } from './request-context.js';
import { healthRoutes } from './routes/health.js';
import { merchantRoutes } from './routes/merchants.js';
import { metricsRoutes } from './routes/metrics.js';
import { operationRoutes } from './routes/operations.js';
import { paymentCommandRoutes } from './routes/payment-commands.js';
import { ledgerRoutes, paymentRoutes } from './routes/payments.js';

/**
 * The whole HTTP surface of CONTRACT.md on one Hono app: health, `GET /metrics` (when
 * `deps.metrics` can render), `/admin`, `/v1` (merchant API key) and `/inbound/{sourceId}`
 * (PSPs), and the API reference: `GET /openapi.json` (OpenAPI 3.1, built from the zod
 * schemas that validate the routes) and `GET /docs`. Every request gets a request id, a logger bound to it (`c.var.log`) and one access
 * line (see {@link requestContext}). `deps` is built once by the entry file; tests call
 * `app.request()`.
 *
 * @example
 * const app = createApp(deps);
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function createApp(deps: Deps, options: { expectedMigration?: string } = {}): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.use('*', requestContext(() => deps));
  app.onError(onError);
  app.notFound((c) => {
    // A path that exists for other methods is 405 with Allow (RFC 9110 §15.5.6), not 404.
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length === 0) return problemResponse(problemBody('not_found', 404, 'No such route.'));
    return problemResponse(problemBody('method_not_allowed', 405, `${c.req.method} is not allowed here; allowed: ${allowed.join(', ')}.`), {
      allow: allowed.join(', '),
    });
  });

  app.route('/', healthRoutes(options.expectedMigration));
  if (deps.metrics?.render) app.route('/', metricsRoutes());
  app.route('/admin', merchantRoutes());
  app.route('/inbound', ingestRoutes());

  const v1 = createRouter();
  v1.use('*', requireMerchant());
  v1.route('/sources', sourceRoutes());
  v1.route('/inbound-events', inboundEventRoutes());
  v1.route('/endpoints', endpointRoutes());
  v1.route('/events', eventRoutes());
  v1.route('/payments', paymentRoutes());
  v1.route('/payments', paymentCommandRoutes());
  v1.route('/payments', operationRoutes());
  v1.route('/ledger', ledgerRoutes());
  app.route('/v1', v1);
  mountApiReference(app);
  return app;
}

// The app's routes as (method, path pattern), compiled once on first use.
const routeTables = new WeakMap<object, { method: string; pattern: RegExp }[]>();

/**
 * The methods `app` has a route for at `path` (GET implying HEAD), sorted; empty when the
 * path matches no route. Middleware (method ALL) does not count.
 */
export function allowedMethods(app: OpenAPIHono<AppEnv>, path: string): string[] {
  let table = routeTables.get(app);
  if (!table) {
    table = app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => ({ method: r.method, pattern: routePattern(r.path) }));
    routeTables.set(app, table);
  }
  const methods = new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/** A Hono path (`/v1/payments/:id`, `/docs/*`) as an anchored RegExp. */
function routePattern(path: string): RegExp {
  const parts = path.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}
