import { Hono } from 'hono';
import type { AppEnv } from '../../core/deps.js';

/**
 * `GET /metrics`: the Prometheus text exposition of `deps.metrics.render()` (CONTRACT.md
 * "Operators"), with the registry's own content type. Unauthenticated, as Prometheus
 * scrapes it: operators should keep it off the public internet (bind it behind the
 * load balancer, or deny `/metrics` at the edge). It shows traffic volumes per provider,
 * not merchant data. Answers 404 when `deps.metrics` cannot render.
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
