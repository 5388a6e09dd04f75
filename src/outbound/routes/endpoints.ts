import { Hono } from 'hono';
import { z } from 'zod';
import type { Config } from '../../core/config.js';
import { randomBytes, toHex } from '../../core/crypto.js';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { jsonBody, queryParams } from '../../core/http/validate.js';
import { rotateEndpointSecret } from '../endpoints/endpoint-secrets.js';
import {
  activeSecretEnvelopes,
  deleteEndpoint,
  getEndpoint,
  insertEndpoint,
  listEndpoints,
  lockEndpoint,
  resetEndpointHealth,
  updateEndpoint,
  type Endpoint,
} from '../endpoints/endpoint-store.js';
import { emitEventToEndpoint, recoverEndpointMessages } from '../messages.js';
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

// null clears a field (eventTypes: null = every type); an absent key leaves it as it is.
const patchEndpointBody = z
  .object({
    url: z.string().min(1).max(2048).optional(),
    eventTypes: z.array(eventType).min(1).max(50).nullable().optional(),
    description: z.string().max(500).nullable().optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, {
    message: 'Give at least one of url, eventTypes, description, status, rateLimitPerSecond.',
  });

// An offset is required (Z or ±hh:mm): a local time would mean a different instant per server.
const recoverBody = z.object({ since: z.iso.datetime({ offset: true }) }).strict();

/** The text of the `webhook.test` event's `data.message`. */
const TEST_EVENT_MESSAGE = 'This is a test webhook from Switchyard. If its signature verified, your endpoint is ready.';

/**
 * The URL as it will be stored, after the SSRF check of CONTRACT.md "Endpoints"; throws
 * 400 `url_not_allowed` when it is refused.
 */
async function allowedUrl(url: string, config: Config): Promise<string> {
  const checked = await checkEndpointUrl(url, {
    allowPrivate: config.SWITCHYARD_ALLOW_PRIVATE_URLS,
    requireHttps: config.NODE_ENV === 'production' && !config.SWITCHYARD_ALLOW_PRIVATE_URLS,
  });
  if (!checked.ok) throw new AppError('url_not_allowed', 400, `The endpoint URL is not allowed: ${checked.error}.`);
  return checked.value.toString();
}

/** 409 `conflict` for an operation that would send to a disabled endpoint. */
function endpointDisabled(action: string): AppError {
  return new AppError('conflict', 409, `The endpoint is disabled; enable it (PATCH status "enabled") before ${action}.`);
}

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
 * The endpoint routes of CONTRACT.md "Endpoints", mounted at `/v1/endpoints`. Every
 * query is scoped to the authenticated merchant: another merchant's endpoint, or a
 * deleted one, is 404 `not_found`. A bad body is 400 `invalid_request`.
 *
 * - `POST /` → 201 the endpoint with its `secret`; `GET /` (paged); `GET /{id}`;
 *   `DELETE /{id}` → 204.
 * - `PATCH /{id}` with at least one of `url`, `eventTypes` (null = every type),
 *   `description` (null clears it), `status` (`enabled|disabled`), `rateLimitPerSecond`
 *   (null = unlimited) → 200 the endpoint. Re-enabling a disabled endpoint also clears the
 *   delivery engine's failure state for it.
 * - `GET /{id}/secret` → `{"secret"}`, the newest that signs now.
 * - `POST /{id}/secret/rotate` → 200 `{"secret"}`: the new secret; the previous ones keep
 *   signing beside it for 24 h.
 * - `POST /{id}/test` → 202 `{"eventId", "messageId"}`: a `webhook.test` event sent to
 *   this endpoint only, whatever its `eventTypes`; 409 `conflict` when it is disabled.
 * - `POST /{id}/recover {"since"}` (ISO 8601 with an offset, not in the future) → 202
 *   `{"messages": n}`: every message to the endpoint that failed and was created at or
 *   after `since` is pending again with one more attempt queued; 409 `conflict` when the
 *   endpoint is disabled.
 *
 * A URL (on POST and PATCH) that is not http(s), or (unless SWITCHYARD_ALLOW_PRIVATE_URLS)
 * resolves to a private, loopback, link-local or metadata address, is 400
 * `url_not_allowed`; https is required in production.
 */
export function endpointRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post('/', async (c) => {
    const body = await jsonBody(c, createEndpointBody);
    const { sql, secretBox, config } = c.var.deps;
    const url = await allowedUrl(body.url, config);
    const secret = generateEndpointSecret();
    const endpoint = await sql.begin(async (tx) =>
      insertEndpoint(tx, {
        merchantId: c.var.merchant.id,
        url,
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

  app.patch('/:id', async (c) => {
    const body = await jsonBody(c, patchEndpointBody);
    const { sql, config } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const id = c.req.param('id');
    // 404 before the URL check, and the check (DNS) outside the transaction that locks the row.
    if (!(await getEndpoint(sql, merchantId, id))) throw new NotFoundError('Endpoint');
    const changes = body.url === undefined ? body : { ...body, url: await allowedUrl(body.url, config) };
    const endpoint = await sql.begin(async (tx) => {
      const before = await lockEndpoint(tx, merchantId, id);
      if (!before) return undefined;
      const after = await updateEndpoint(tx, merchantId, id, changes);
      if (before.status === 'disabled' && after?.status === 'enabled') await resetEndpointHealth(tx, before.id);
      return after;
    });
    if (!endpoint) throw new NotFoundError('Endpoint');
    return c.json(endpointView(endpoint));
  });

  app.post('/:id/secret/rotate', async (c) => {
    const { sql, secretBox, clock } = c.var.deps;
    const secret = await sql.begin((tx) =>
      rotateEndpointSecret(tx, secretBox, { merchantId: c.var.merchant.id, endpointId: c.req.param('id'), now: clock() }),
    );
    if (secret === undefined) throw new NotFoundError('Endpoint');
    return c.json({ secret });
  });

  app.post('/:id/test', async (c) => {
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const at = clock();
    const emitted = await sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, merchantId, c.req.param('id'));
      if (!endpoint) throw new NotFoundError('Endpoint');
      if (endpoint.status !== 'enabled') throw endpointDisabled('sending it a test event');
      return emitEventToEndpoint(tx, {
        merchantId,
        endpointId: endpoint.id,
        type: 'webhook.test',
        paymentId: null,
        // Every test is a new event: the key only has to be unique.
        dedupeKey: `webhook.test:${endpoint.id}:${toHex(randomBytes(16))}`,
        data: { endpointId: endpoint.id, message: TEST_EVENT_MESSAGE },
        at,
      });
    });
    if (!emitted) throw new Error('webhook.test dedupe key collided');
    return c.json(emitted, 202);
  });

  app.post('/:id/recover', async (c) => {
    const body = await jsonBody(c, recoverBody);
    const { sql, clock } = c.var.deps;
    const now = clock();
    const since = new Date(body.since);
    if (since.getTime() > now.getTime()) {
      throw new ValidationError([{ path: ['since'], message: 'since is in the future.' }], 'since must not be in the future.');
    }
    const outcome = await sql.begin((tx) =>
      recoverEndpointMessages(tx, { merchantId: c.var.merchant.id, endpointId: c.req.param('id'), since, at: now }),
    );
    if (!outcome.ok) {
      if (outcome.error === 'endpoint_disabled') throw endpointDisabled('recovering its messages');
      throw new NotFoundError('Endpoint');
    }
    return c.json({ messages: outcome.value }, 202);
  });

  app.delete('/:id', async (c) => {
    const deleted = await c.var.deps.sql.begin((tx) => deleteEndpoint(tx, c.var.merchant.id, c.req.param('id')));
    if (!deleted) throw new NotFoundError('Endpoint');
    return c.body(null, 204);
  });
  return app;
}
