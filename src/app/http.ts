// (node) The full Node app: it mounts the endpoint routes, whose SSRF guard resolves DNS
// with node:dns. The Workers entry mounts only the inbound and health routes.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { ingestRoutes, type IngestOptions } from '../inbound/routes/ingest.js';
import { inboundEventRoutes } from '../inbound/routes/inbound-events.js';
import { sourceRoutes } from '../inbound/routes/sources.js';
import { endpointRoutes } from '../outbound/routes/endpoints.js';
import { eventRoutes } from '../outbound/routes/events.js';
import { replayRoutes } from '../outbound/routes/replays.js';
import { requireMerchant } from '../core/auth/middleware.js';
import { deriveOperationId, RouteTable } from '../core/http/route-table.js';
import { auditTrail } from './audit.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { adminAuditLogRoutes, auditLogRoutes } from './routes/audit-log.js';
import type { AppEnv, Deps } from '../core/deps.js';
import { createRouter, mountApiReference } from '../core/http/openapi.js';
import { notFoundOrNotAllowed } from '../core/http/allowed-methods.js';
import { onError, problemBody, problemResponse } from '../core/http/problem.js';
import { requestContext } from '../core/http/request-context.js';
import { registerEventWebhooks } from './event-catalogue.js';
import { eventTypeRoutes } from './routes/event-types.js';
import { healthRoutes } from './routes/health.js';
import { currentMerchantRoutes, merchantRoutes } from './routes/merchants.js';
import { metricsRoutes } from './routes/metrics.js';
import { portalSessionRoutes } from './routes/portal-sessions.js';
import { portalRoutes } from './portal/routes.js';
import { swaggerUiAssets } from './node/swagger-ui-assets.js';
import { operationRoutes } from '../payments-api/routes/operations.js';
import { paymentCommandRoutes } from '../payments-api/routes/payment-commands.js';
import { ledgerRoutes } from '../payments-api/routes/ledger.js';
import { paymentRoutes } from '../payments-api/routes/payments.js';
import { riskRuleRoutes } from '../payments-api/routes/risk-rules.js';
import { riskListRoutes } from '../payments-api/routes/risk-lists.js';
import { reviewRoutes } from '../payments-api/routes/reviews.js';
import { unstorableTextGuard } from '../core/http/validate.js';
import { apiRateLimit } from '../core/rate-limit/rate-limit.js';
import { settlementRoutes } from '../reconciliation/routes/settlements.js';
import { ledgerCheckRoutes } from '../reconciliation/routes/ledger-checks.js';
import { reconciliationSourceRoutes } from '../reconciliation/routes/reconciliation-sources.js';

/** The process's {@link Deps} and what the inbound route shares across requests (the batcher, the source cache). */
export type AppDeps = Deps & IngestOptions;

/**
 * The whole HTTP surface of docs/http-api.md on one Hono app: health, `/metrics`, `/admin`, `/v1`,
 * `/inbound/{sourceId}`, `/openapi.json`, `/docs` and the merchant portal at `/portal`. Bodies on `/v1` and `/admin` are
 * capped at SWITCHYARD_API_MAX_BYTES (413 `payload_too_large`). `options.expectedMigration`
 * is the sql/ file `/readyz` waits for. `options.adminApi: false` (production without
 * SWITCHYARD_ADMIN_TOKEN) mounts no admin route: `/admin/*` answers 404 `not_found` naming the variable.
 *
 * @example
 * const app = createApp(deps);
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function createApp(deps: AppDeps, options: { expectedMigration?: string; adminApi?: boolean } = {}): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.use(
    '*',
    requestContext(() => deps),
  );
  app.onError(onError);
  app.notFound(notFoundOrNotAllowed(app));
  // Filled once every route is mounted (below); the audit and auth middleware look requests up in it.
  const routes = new RouteTable();
  const audit = auditTrail(routes);
  // Ahead of the audit trail's transaction: the rate limit's take (which also reads the key) is its own statement,
  // never rolled back with a refused request nor holding its row for the request's length.
  app.use('/v1/*', apiRateLimit());
  app.use('/v1/*', audit);
  app.use('/admin/*', audit);
  app.use('/portal/*', audit);

  const maxBytes = deps.config.SWITCHYARD_API_MAX_BYTES;
  const apiBodyLimit = bodyLimit({
    maxSize: maxBytes,
    // connection: close, so Node does not read and discard the rest of a huge body.
    onError: () => problemResponse(problemBody('payload_too_large', 413, `The body exceeds ${maxBytes} bytes.`), { connection: 'close' }),
  });
  app.use('/admin/*', apiBodyLimit, unstorableTextGuard());
  // A settlement report is streamed under its own cap (50 MiB), never read whole.
  app.use('/v1/*', (c, next) =>
    c.req.path === '/v1/reconciliation/settlements' && c.req.method === 'POST' ? next() : apiBodyLimit(c, next),
  );

  app.route('/', healthRoutes(options.expectedMigration));
  if (deps.metrics?.render) app.route('/', metricsRoutes());
  if (options.adminApi ?? true) {
    app.route('/admin', merchantRoutes());
    app.route('/admin/audit-log', adminAuditLogRoutes());
  } else {
    app.all('/admin/*', () =>
      problemResponse(
        problemBody(
          'not_found',
          404,
          'The admin API is off: this server runs with NODE_ENV=production and no SWITCHYARD_ADMIN_TOKEN. Set SWITCHYARD_ADMIN_TOKEN (16 characters at least) to turn it on, or create merchants with `switchyard merchants create`.',
        ),
      ),
    );
  }
  app.route('/inbound', ingestRoutes({ inboundBatcher: deps.inboundBatcher, sourceCache: deps.sourceCache }));

  const v1 = createRouter();
  v1.use('*', requireMerchant(routes), unstorableTextGuard());
  v1.route('/api-keys', apiKeyRoutes());
  v1.route('/audit-log', auditLogRoutes());
  v1.route('/merchant', currentMerchantRoutes());
  v1.route('/sources', sourceRoutes());
  v1.route('/inbound-events', inboundEventRoutes());
  v1.route('/endpoints', endpointRoutes());
  v1.route('/events', eventRoutes());
  v1.route('/event-types', eventTypeRoutes());
  v1.route('/replays', replayRoutes());
  v1.route('/payments', paymentRoutes());
  v1.route('/payments', paymentCommandRoutes());
  v1.route('/payments', operationRoutes());
  v1.route('/ledger', ledgerRoutes());
  v1.route('/portal', portalSessionRoutes());
  v1.route('/risk/rules', riskRuleRoutes());
  v1.route('/risk/lists', riskListRoutes());
  v1.route('/reviews', reviewRoutes());
  v1.route('/ledger', ledgerCheckRoutes());
  v1.route('/reconciliation/settlements', settlementRoutes());
  v1.route('/reconciliation', reconciliationSourceRoutes());
  app.route('/v1', v1);
  app.route('/portal', portalRoutes());
  registerEventWebhooks(app);
  mountApiReference(app, swaggerUiAssets);
  routes.load(app);
  // The portal's forms are not in the OpenAPI document; their operations are named the same way.
  const portalOperations = new Set<string>();
  for (const r of app.routes) {
    if (!r.path.startsWith('/portal/') || !['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method)) continue;
    if (portalOperations.has(`${r.method} ${r.path}`)) continue;
    portalOperations.add(`${r.method} ${r.path}`);
    routes.add({
      operationId: deriveOperationId(r.method, r.path),
      method: r.method,
      path: r.path,
      permission: undefined,
      audit: 'request',
    });
  }
  return app;
}
