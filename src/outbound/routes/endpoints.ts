import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { jsonBody, queryParams } from '../../core/http/validate.js';
import { activeSecretEnvelopes, deleteEndpoint, getEndpoint, insertEndpoint, listEndpoints, type Endpoint } from '../endpoints/endpoint-store.js';
import { generateEndpointSecret } from '../sign.js';
import { checkEndpointUrl } from '../ssrf.js';

const eventType = z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/, 'an event type such as payment.captured');

const createEndpointBody = z
  .object({
    url: z.string().min(1).max(2048),
    eventTypes: z.array(eventType).min(1).max(50).optional(),
    description: z.string().max(500).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();

/** The endpoint as the API shows it (never its secret, except on creation). */
export function endpointView(e: Endpoint): Record<string, unknown> {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    status: e.status,
    rateLimitPerSecond: e.rateLimitPerSecond,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

/**
 * `POST/GET /v1/endpoints`, `GET/DELETE /v1/endpoints/{id}`, `GET /v1/endpoints/{id}/secret`
 * (CONTRACT.md "Endpoints"). A URL that is not http(s), or (unless
 * SWITCHYARD_ALLOW_PRIVATE_URLS) resolves to a private, loopback, link-local or metadata
 * address, is 400 `url_not_allowed`; https is required in production.
 */
export function endpointRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post('/', async (c) => {
    const body = await jsonBody(c, createEndpointBody);
    const { sql, secretBox, config } = c.var.deps;
    const checked = await checkEndpointUrl(body.url, {
      allowPrivate: config.SWITCHYARD_ALLOW_PRIVATE_URLS,
      requireHttps: config.NODE_ENV === 'production' && !config.SWITCHYARD_ALLOW_PRIVATE_URLS,
    });
    if (!checked.ok) throw new AppError('url_not_allowed', 400, `The endpoint URL is not allowed: ${checked.error}.`);
    const secret = generateEndpointSecret();
    const endpoint = await sql.begin(async (tx) =>
      insertEndpoint(tx, {
        merchantId: c.var.merchant.id,
        url: checked.value.toString(),
        description: body.description ?? null,
        eventTypes: body.eventTypes ?? null,
        rateLimitPerSecond: body.rateLimitPerSecond ?? null,
        secretEnvelope: await secretBox.encrypt(secret),
      }),
    );
    return c.json({ ...endpointView(endpoint), secret }, 201);
  });

  app.get('/', async (c) => {
    const q = queryParams(c, pageQuery);
    const rows = await listEndpoints(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(toPage(rows, q.limit, endpointView));
  });

  app.get('/:id', async (c) => {
    const endpoint = await getEndpoint(c.var.deps.sql, c.var.merchant.id, c.req.param('id'));
    if (!endpoint) throw new NotFoundError('Endpoint');
    return c.json(endpointView(endpoint));
  });

  app.get('/:id/secret', async (c) => {
    const { sql, secretBox, clock } = c.var.deps;
    const endpoint = await getEndpoint(sql, c.var.merchant.id, c.req.param('id'));
    if (!endpoint) throw new NotFoundError('Endpoint');
    const [newest] = await activeSecretEnvelopes(sql, endpoint.id, clock());
    if (!newest) throw new NotFoundError('Endpoint secret');
    return c.json({ secret: await secretBox.decrypt(newest) });
  });

  app.delete('/:id', async (c) => {
    const deleted = await c.var.deps.sql.begin((tx) => deleteEndpoint(tx, c.var.merchant.id, c.req.param('id')));
    if (!deleted) throw new NotFoundError('Endpoint');
    return c.body(null, 204);
  });
  return app;
}
