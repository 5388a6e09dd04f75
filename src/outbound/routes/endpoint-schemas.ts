// Request bodies and views of the endpoint routes (docs/http-api.md "Endpoints"), shared by the route files.
import { z } from '@hono/zod-openapi';
import { idParam, isoTimestamp, problems } from '../../core/http/openapi.js';
import type { Endpoint } from '../endpoints/endpoint-store.js';
import { authView, headersView } from '../endpoints/receiver-options.js';

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

const filterInput = z.string().min(1).max(2000).openapi({
  description:
    'A payload filter: a CEL expression over the event, `type` and `data.*`, yielding bool. A message is made only when the event types and the filter both match; a filter that errors on an event (a field it lacks) does not match.',
  example: 'data.currency == "EUR" && data.amount >= 10000',
});

/** RFC 9110 §5.6.2 `token`: what a field name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 §5.5 field value: visible characters, spaces and tabs, no CR, LF or NUL; none leading or trailing. */
const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\uffff](?:[\x20\x09\x21-\x7e\x80-\uffff]*[\x21-\x7e\x80-\uffff])?)?$/;
/**
 * Header names Switchyard sets or that belong to the connection (RFC 9110 §7.6.1 hop-by-hop), refused as custom headers.
 * `authorization` is refused too when the endpoint has `auth` (the route checks).
 */
const RESERVED_HEADERS = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'host',
  'content-length',
  'content-type',
  'user-agent',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const MAX_HEADER_VALUE_BYTES = 1024;

const customHeader = z
  .object({
    name: z.string().min(1).max(256).regex(TOKEN, "a header name is an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~)"),
    value: z
      .string()
      .regex(FIELD_VALUE, 'a header value has no control characters (CR, LF, NUL) and no leading or trailing space')
      .refine((v) => new TextEncoder().encode(v).byteLength <= MAX_HEADER_VALUE_BYTES, 'a header value is at most 1 KiB'),
    secret: z.boolean().optional().openapi({ description: 'Encrypt the value at rest and show it masked.', default: false }),
  })
  .strict();

const headersInput = z
  .array(customHeader)
  .max(20)
  .superRefine((headers, ctx) => {
    const seen = new Set<string>();
    headers.forEach((h, i) => {
      const name = h.name.toLowerCase();
      if (RESERVED_HEADERS.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `header "${h.name}" is set by Switchyard or the connection and cannot be sent`,
        });
      } else if (seen.has(name)) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `header "${h.name}" is given twice` });
      }
      seen.add(name);
    });
  })
  .openapi({
    description:
      'Up to 20 headers sent on every attempt; a `secret` value is encrypted at rest and shown masked. Standard Webhooks, `host`, `content-*`, `user-agent` and hop-by-hop headers are refused.',
    example: [{ name: 'X-Api-Key', value: 'k_live_123', secret: true }],
  });

const secretText = z.string().min(1).max(1024);
const authInput = z
  .discriminatedUnion('type', [
    z
      .object({
        type: z.literal('basic'),
        username: z
          .string()
          .min(1)
          .max(256)
          .regex(/^[^:]*$/, 'a basic username has no colon'),
        password: secretText,
      })
      .strict(),
    z
      .object({
        type: z.literal('oauth2_client_credentials'),
        tokenUrl: z.string().min(1).max(2048),
        clientId: z.string().min(1).max(256),
        clientSecret: secretText,
        scope: z.string().min(1).max(1024).optional(),
      })
      .strict(),
  ])
  .openapi('EndpointAuthInput', {
    description:
      'HTTP basic auth (RFC 7617), or an OAuth2 client-credentials token (RFC 6749 §4.4) sent as `Authorization: Bearer`. The password and client secret are encrypted at rest and never returned.',
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
    headers: headersInput.optional(),
    auth: authInput.optional(),
    filter: filterInput.optional(),
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
    headers: headersInput.nullable().optional(),
    auth: authInput.nullable().optional(),
    filter: filterInput.nullable().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, {
    message: 'Give at least one of url, eventTypes, description, status, rateLimitPerSecond, maxInFlight, ordered, headers, auth, filter.',
  })
  .openapi('UpdateEndpoint', {
    description:
      'At least one field; null clears a field (eventTypes: null = every type). `headers` and `auth` replace the whole list or auth.',
  });

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
    headers: z
      .array(z.object({ name: z.string(), value: z.string(), secret: z.boolean() }))
      .openapi({ description: 'Custom headers; a secret value shows as `********`.' }),
    auth: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('basic'), username: z.string() }),
        z.object({
          type: z.literal('oauth2_client_credentials'),
          tokenUrl: z.string(),
          clientId: z.string(),
          scope: z.string().nullable(),
        }),
      ])
      .nullable()
      .openapi({ description: 'Auth to the receiver, without its password or client secret; null: none.' }),
    filter: z.string().nullable().openapi({ description: 'The payload filter (CEL); null: every event of `eventTypes`.' }),
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

/** `POST /v1/endpoints/{id}/filter/test`: an event as the endpoint would receive it, `{type, data}`. */
export const filterTestBody = z
  .object({
    event: z
      .object({ type: z.string().min(1).max(200), data: z.record(z.string(), z.unknown()) })
      .openapi({ example: { type: 'payment.captured', data: { currency: 'EUR', amount: 12500 } } }),
  })
  .strict()
  .openapi('EndpointFilterTest');

/** Its answer: whether a message would be made for the event, and which half decided. */
export const FilterTestView = z
  .object({
    matches: z.boolean().openapi({ description: 'The event types and the filter both match: a message would be made.' }),
    typeMatches: z.boolean().openapi({ description: 'The event type is one of `eventTypes` (or the endpoint takes every type).' }),
    filterMatches: z.boolean().openapi({ description: 'The filter yields true (or the endpoint has none).' }),
  })
  .openapi('EndpointFilterTestResult');

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
    headers: headersView(e.headers),
    auth: authView(e.auth),
    filter: e.filter,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}
