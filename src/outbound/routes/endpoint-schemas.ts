// Request bodies and views of the endpoint routes (docs/http-api.md "Endpoints"), shared by the route files.
import { z } from '@hono/zod-openapi';
import { idParam, isoTimestamp, problems } from '../../core/http/openapi.js';
import type { Endpoint } from '../endpoints/endpoint-store.js';

/** The OpenAPI tag of every endpoint route. */
export const TAGS = ['Endpoints'];
/** The `{id}` path parameter: an endpoint id (`ep_…`). */
export const endpointId = idParam('ep_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');
/** 404 `not_found`: no such endpoint of this merchant (RFC 9457 problem). */
export const notFound = problems({ 404: ['not_found'] });

const eventType = z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/, 'an event type such as payment.captured');

const maxInFlight = z.number().int().min(1).max(64).openapi({
  description:
    'Deliveries to this endpoint in flight at once, across every worker process (a share of it per process, leased in PostgreSQL). A slow endpoint holds at most this many workers.',
});

const ordered = z.boolean().openapi({
  description:
    'Ordered delivery per payment: an event of a payment is not sent before the previous event of that payment to this endpoint has been delivered or has failed for good. Applies to events emitted while it is on.',
});

/**
 * `POST /v1/endpoints`: `url` (https unless private URLs are allowed), optional `eventTypes` (none = every type),
 * `rateLimitPerSecond` (deliveries per second), `maxInFlight` (deliveries at once, 1–64, default 8), `ordered`.
 */
export const createEndpointBody = z
  .object({
    url: z.string().min(1).max(2048),
    eventTypes: z.array(eventType).min(1).max(50).optional(),
    description: z.string().max(500).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).optional(),
    maxInFlight: maxInFlight.optional().openapi({ default: 8 }),
    ordered: ordered.optional().openapi({ default: false }),
  })
  .strict()
  .openapi('CreateEndpoint');

/** `PATCH /v1/endpoints/{id}`: null clears a field (eventTypes: null = every type); an absent key leaves it as it is. */
export const patchEndpointBody = z
  .object({
    url: z.string().min(1).max(2048).optional(),
    eventTypes: z.array(eventType).min(1).max(50).nullable().optional(),
    description: z.string().max(500).nullable().optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
    rateLimitPerSecond: z.number().int().min(1).max(10_000).nullable().optional(),
    maxInFlight: maxInFlight.optional(),
    ordered: ordered.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, {
    message: 'Give at least one of url, eventTypes, description, status, rateLimitPerSecond, maxInFlight, ordered.',
  })
  .openapi('UpdateEndpoint', { description: 'At least one field; null clears a field (eventTypes: null = every type).' });

/**
 * `POST /v1/endpoints/{id}/recover`: `since`, ISO 8601. An offset is required (Z or ±hh:mm): a local time would mean a
 * different instant per server.
 */
export const recoverBody = z
  .object({
    since: z.iso
      .datetime({ offset: true })
      .openapi({ description: 'ISO 8601 with an offset, not in the future.', example: '2026-11-22T00:00:00Z' }),
  })
  .strict()
  .openapi('RecoverEndpoint');

/** An endpoint as the API answers it (docs/http-api.md "Endpoints"); never its secret. */
export const EndpointView = z
  .object({
    id: z.string().openapi({ example: 'ep_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()).nullable().openapi({ description: 'null: every event type.' }),
    status: z.enum(['enabled', 'disabled', 'deleted']),
    rateLimitPerSecond: z.number().int().nullable(),
    maxInFlight,
    ordered,
    createdAt: isoTimestamp(),
    updatedAt: isoTimestamp(),
  })
  .openapi('Endpoint');

/** The 201 of `POST /v1/endpoints`: the endpoint and, this once, its signing secret. */
export const CreatedEndpoint = EndpointView.extend({
  secret: z.string().openapi({ description: 'The signing secret, `whsec_` + base64 of 24 random bytes.' }),
}).openapi('CreatedEndpoint');

/** `GET /v1/endpoints/{id}/secret` and its rotation: `{ secret }`, `whsec_` + base64. */
export const SecretView = z.object({ secret: z.string() }).openapi('EndpointSecret');

/** An endpoint's Ed25519 signing state: whether `v1a` signatures are sent, and the public key to verify them. */
export const Ed25519View = z
  .object({
    enabled: z.boolean().openapi({ description: 'Whether deliveries carry a `v1a` (Ed25519) signature.' }),
    publicKey: z.string().nullable().openapi({
      description: 'The key to verify `v1a` signatures with: `whpk_` + base64 of the raw 32-byte Ed25519 public key; null when off.',
      example: 'whpk_9awe/mK8Ajapjx2UhCwIxLUYilCZs0VtxKs5FWpCFW4=',
    }),
  })
  .openapi('EndpointEd25519');

/** The endpoint as the API shows it (never its secret, except on creation). */
export function endpointView(e: Endpoint): z.infer<typeof EndpointView> {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    status: e.status,
    rateLimitPerSecond: e.rateLimitPerSecond,
    maxInFlight: e.maxInFlight,
    ordered: e.ordered,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}
