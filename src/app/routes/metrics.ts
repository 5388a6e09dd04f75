import { Hono } from 'hono';
import type { AppEnv } from '../../core/deps.js';

/**
 * `GET /metrics`: Prometheus text of `deps.metrics.render()` (docs/http-api.md "Operators"), or
 * 404 when it cannot render. Unauthenticated for Prometheus: keep it off the public
 * internet (it shows traffic per provider, no merchant data).
 *
 * @example
 * app.route('/', metricsRoutes());
 * // curl -s localhost:3000/metrics | grep switchyard_inbound_requests_total
 */
export function metricsRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/metrics', async (c) => {
    const render = c.var.deps.metrics?.render;
    if (!render) return c.notFound();
    const { contentType, body } = await render.call(c.var.deps.metrics);
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
  return app;
}
