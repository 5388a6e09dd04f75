import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Config } from '../../core/config.js';
import { randomBytes, toHex } from '../../core/crypto.js';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, isoTimestamp, idParam, jsonBodyOf, jsonResponse, merchantAuth, pageOf, problems } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { rethrowSecretUnreadable } from '../../core/secrets.js';
import { enableEd25519Signing } from '../endpoints/endpoint-ed25519.js';
import { rotateEndpointSecret } from '../endpoints/endpoint-secrets.js';
import {
  activeSecretEnvelopes,
  deleteEndpoint,
  disableEd25519Signing,
  getEd25519PublicKey,
  getEndpoint,
  insertEndpoint,
  listEndpoints,
  lockEndpoint,
  resetEndpointHealth,
  updateEndpoint,
  type Endpoint,
} from '../endpoints/endpoint-store.js';
import { emitEventToEndpoint, recoverEndpointMessages } from '../../core/events/outbox.js';
import { generateEndpointSecret } from '../sign.js';
import { checkEndpointUrl } from '../ssrf.js';

const eventType = z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/, 'an event type such as payment.captured');

const ordered = z.boolean().openapi({
  description:
    'Ordered delivery per payment: an event of a payment is not sent before the previous event of that payment to this endpoint has been delivered or has failed for good. Applies to events emitted while it is on.',
});

const createEndpointBody = z
  .object({
    url: z.string().min(1).max(2048),
    eventTypes: z.array(eventType).min(1).max(50).optional(),
    description: z.string().max(500).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).optional(),
    ordered: ordered.optional().openapi({ default: false }),
  })
  .strict()
  .openapi('CreateEndpoint');

// null clears a field (eventTypes: null = every type); an absent key leaves it as it is.
const patchEndpointBody = z
  .object({
    url: z.string().min(1).max(2048).optional(),
    eventTypes: z.array(eventType).min(1).max(50).nullable().optional(),
    description: z.string().max(500).nullable().optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
    ordered: ordered.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, {
    message: 'Give at least one of url, eventTypes, description, status, rateLimitPerSecond, ordered.',
  })
  .openapi('UpdateEndpoint', { description: 'At least one field; null clears a field (eventTypes: null = every type).' });

// An offset is required (Z or ±hh:mm): a local time would mean a different instant per server.
const recoverBody = z
  .object({ since: z.iso.datetime({ offset: true }).openapi({ description: 'ISO 8601 with an offset, not in the future.', example: '2026-11-22T00:00:00Z' }) })
  .strict()
  .openapi('RecoverEndpoint');

const EndpointView = z
  .object({
    id: z.string().openapi({ example: 'ep_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()).nullable().openapi({ description: 'null: every event type.' }),
    status: z.enum(['enabled', 'disabled', 'deleted']),
    rateLimitPerSecond: z.number().int().nullable(),
    ordered,
    createdAt: isoTimestamp(),
    updatedAt: isoTimestamp(),
  })
  .openapi('Endpoint');

const CreatedEndpoint = EndpointView.extend({
  secret: z.string().openapi({ description: 'The signing secret, `whsec_` + base64 of 24 random bytes.' }),
}).openapi('CreatedEndpoint');

const SecretView = z.object({ secret: z.string() }).openapi('EndpointSecret');

const Ed25519View = z
  .object({
    enabled: z.boolean().openapi({ description: 'Whether deliveries carry a `v1a` (Ed25519) signature.' }),
    publicKey: z
      .string()
      .nullable()
      .openapi({
        description: 'The key to verify `v1a` signatures with: `whpk_` + base64 of the raw 32-byte Ed25519 public key; null when off.',
        example: 'whpk_9awe/mK8Ajapjx2UhCwIxLUYilCZs0VtxKs5FWpCFW4=',
      }),
  })
  .openapi('EndpointEd25519');

const TAGS = ['Endpoints'];
const endpointId = idParam('ep_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');
const notFound = problems({ 404: ['not_found'] });

const createEndpointRoute = defineRoute({
  method: 'post',
  path: '/',
  tags: TAGS,
  summary: 'Create an endpoint',
  security: merchantAuth,
  request: { body: jsonBodyOf(createEndpointBody) },
  responses: {
    201: jsonResponse(CreatedEndpoint, 'The endpoint, with its signing secret'),
    ...problems({ 400: ['invalid_request', 'url_not_allowed'] }),
  },
});

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: TAGS,
  summary: 'List endpoints, newest first',
  security: merchantAuth,
  request: { query: pageQuery },
  responses: { 200: jsonResponse(pageOf(EndpointView), 'A page of endpoints') },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  tags: TAGS,
  summary: 'Get an endpoint',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(EndpointView, 'The endpoint'), ...notFound },
});

const getSecretRoute = defineRoute({
  method: 'get',
  path: '/{id}/secret',
  tags: TAGS,
  summary: 'The newest signing secret',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(SecretView, 'The secret that signs now'), ...notFound },
});

const patchRoute = defineRoute({
  method: 'patch',
  path: '/{id}',
  tags: TAGS,
  summary: 'Update an endpoint',
  description: 'Re-enabling a disabled endpoint also clears its failure state.',
  security: merchantAuth,
  request: { params: endpointId, body: jsonBodyOf(patchEndpointBody) },
  responses: {
    200: jsonResponse(EndpointView, 'The endpoint'),
    ...problems({ 400: ['invalid_request', 'url_not_allowed'], 404: ['not_found'] }),
  },
});

const rotateRoute = defineRoute({
  method: 'post',
  path: '/{id}/secret/rotate',
  tags: TAGS,
  summary: 'Rotate the signing secret',
  description: 'The previous secret keeps signing beside the new one for 24 h.',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(SecretView, 'The new secret'), ...notFound },
});

const testRoute = defineRoute({
  method: 'post',
  path: '/{id}/test',
  tags: TAGS,
  summary: 'Send a webhook.test event to this endpoint',
  security: merchantAuth,
  request: { params: endpointId },
  responses: {
    202: jsonResponse(z.object({ eventId: z.string(), messageId: z.string() }), 'The event and its message'),
    ...problems({ 404: ['not_found'], 409: ['conflict'] }),
  },
});

const recoverRoute = defineRoute({
  method: 'post',
  path: '/{id}/recover',
  tags: TAGS,
  summary: 'Queue again every message that failed since a time',
  security: merchantAuth,
  request: { params: endpointId, body: jsonBodyOf(recoverBody) },
  responses: {
    202: jsonResponse(z.object({ messages: z.number().int() }), 'How many messages are pending again'),
    ...problems({ 404: ['not_found'], 409: ['conflict'] }),
  },
});

const enableEd25519Route = defineRoute({
  method: 'post',
  path: '/{id}/ed25519',
  tags: TAGS,
  summary: 'Turn on v1a (Ed25519) signatures',
  description:
    'Deliveries from now on also carry a `v1a,` signature (Standard Webhooks asymmetric) that verifies with the public key answered. Idempotent: when it is already on, the same key is answered; to change the key, turn it off and on again.',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(Ed25519View, 'On, with the public key'), ...notFound },
});

const getEd25519Route = defineRoute({
  method: 'get',
  path: '/{id}/ed25519',
  tags: TAGS,
  summary: 'Whether v1a (Ed25519) signatures are on, and the public key',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(Ed25519View, 'The v1a signing state'), ...notFound },
});

const disableEd25519Route = defineRoute({
  method: 'delete',
  path: '/{id}/ed25519',
  tags: TAGS,
  summary: 'Turn off v1a (Ed25519) signatures',
  description: 'The key pair is dropped; turning it on again makes a new one. Also 204 when it was already off.',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 204: { description: 'Off' }, ...notFound },
});

const deleteRoute = defineRoute({
  method: 'delete',
  path: '/{id}',
  tags: TAGS,
  summary: 'Delete an endpoint',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 204: { description: 'Deleted' }, ...notFound },
});

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
export function endpointView(e: Endpoint): z.infer<typeof EndpointView> {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    status: e.status,
    rateLimitPerSecond: e.rateLimitPerSecond,
    ordered: e.ordered,
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
 *   (null = unlimited), `ordered` → 200 the endpoint. Re-enabling a disabled endpoint also
 *   clears the delivery engine's failure state for it. `ordered` (also on `POST /`, default
 *   false) is ordered delivery per payment (endpoint-store.ts `setEndpointOrdered`).
 * - `GET /{id}/secret` → `{"secret"}`, the newest that signs now.
 * - `POST /{id}/secret/rotate` → 200 `{"secret"}`: the new secret; the previous ones keep
 *   signing beside it for 24 h.
 * - `POST /{id}/test` → 202 `{"eventId", "messageId"}`: a `webhook.test` event sent to
 *   this endpoint only, whatever its `eventTypes`; 409 `conflict` when it is disabled.
 * - `POST /{id}/recover {"since"}` (ISO 8601 with an offset, not in the future) → 202
 *   `{"messages": n}`: every message to the endpoint that failed and was created at or
 *   after `since` is pending again with one more attempt queued; 409 `conflict` when the
 *   endpoint is disabled.
 * - `POST /{id}/ed25519` → 200 `{"enabled": true, "publicKey": "whpk_…"}`: deliveries
 *   carry a `v1a` (Ed25519) signature too (endpoint-ed25519.ts); idempotent (already on:
 *   the same key). `GET /{id}/ed25519` → 200 `{"enabled", "publicKey"}` (null when off).
 *   `DELETE /{id}/ed25519` → 204, also when it was off (the key pair is dropped).
 *
 * A URL (on POST and PATCH) that is not http(s), or (unless SWITCHYARD_ALLOW_PRIVATE_URLS)
 * resolves to a private, loopback, link-local or metadata address, is 400
 * `url_not_allowed`; https is required in production.
 */
export function endpointRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();

  app.openapi(createEndpointRoute, async (c) => {
    const body = c.req.valid('json');
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
        ordered: body.ordered ?? false,
        secretEnvelope: await secretBox.encrypt(secret),
      }),
    );
    return c.json({ ...endpointView(endpoint), secret }, 201);
  });

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listEndpoints(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(toPage(rows, q.limit, endpointView), 200);
  });

  app.openapi(getRoute, async (c) => {
    const endpoint = await getEndpoint(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    return c.json(endpointView(endpoint), 200);
  });

  app.openapi(getSecretRoute, async (c) => {
    const { sql, secretBox, clock } = c.var.deps;
    const endpoint = await getEndpoint(sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    const [newest] = await activeSecretEnvelopes(sql, endpoint.id, clock());
    if (!newest) throw new NotFoundError('Endpoint secret');
    const secret = await secretBox.decrypt(newest).catch(rethrowSecretUnreadable);
    return c.json({ secret }, 200);
  });

  app.openapi(patchRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, config } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const id = c.req.valid('param').id;
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
    return c.json(endpointView(endpoint), 200);
  });

  app.openapi(rotateRoute, async (c) => {
    const { sql, secretBox, clock } = c.var.deps;
    const secret = await sql.begin((tx) =>
      rotateEndpointSecret(tx, secretBox, { merchantId: c.var.merchant.id, endpointId: c.req.valid('param').id, now: clock() }),
    );
    if (secret === undefined) throw new NotFoundError('Endpoint');
    return c.json({ secret }, 200);
  });

  app.openapi(testRoute, async (c) => {
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const at = clock();
    const emitted = await sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, merchantId, c.req.valid('param').id);
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

  app.openapi(recoverRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const now = clock();
    const since = new Date(body.since);
    if (since.getTime() > now.getTime()) {
      throw new ValidationError([{ path: ['since'], message: 'since is in the future.' }], 'since must not be in the future.');
    }
    const outcome = await sql.begin((tx) =>
      recoverEndpointMessages(tx, { merchantId: c.var.merchant.id, endpointId: c.req.valid('param').id, since, at: now }),
    );
    if (!outcome.ok) {
      if (outcome.error === 'endpoint_disabled') throw endpointDisabled('recovering its messages');
      throw new NotFoundError('Endpoint');
    }
    return c.json({ messages: outcome.value }, 202);
  });

  app.openapi(enableEd25519Route, async (c) => {
    const { sql, secretBox } = c.var.deps;
    const publicKey = await sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, c.var.merchant.id, c.req.valid('param').id);
      return endpoint && enableEd25519Signing(tx, secretBox, endpoint.id);
    });
    if (!publicKey) throw new NotFoundError('Endpoint');
    return c.json({ enabled: true, publicKey }, 200);
  });

  app.openapi(getEd25519Route, async (c) => {
    const { sql } = c.var.deps;
    const endpoint = await getEndpoint(sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    const publicKey = await getEd25519PublicKey(sql, endpoint.id);
    return c.json({ enabled: publicKey !== null, publicKey }, 200);
  });

  app.openapi(disableEd25519Route, async (c) => {
    const found = await c.var.deps.sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, c.var.merchant.id, c.req.valid('param').id);
      if (endpoint) await disableEd25519Signing(tx, endpoint.id);
      return endpoint !== undefined;
    });
    if (!found) throw new NotFoundError('Endpoint');
    return c.body(null, 204);
  });

  app.openapi(deleteRoute, async (c) => {
    const deleted = await c.var.deps.sql.begin((tx) => deleteEndpoint(tx, c.var.merchant.id, c.req.valid('param').id));
    if (!deleted) throw new NotFoundError('Endpoint');
    return c.body(null, 204);
  });
  return app;
}
