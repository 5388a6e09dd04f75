// The operations routes of an endpoint: send it a test event, recover its failed messages.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { randomBytes, toHex } from '../../core/crypto.js';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { defineRoute, jsonBodyOf, jsonResponse, merchantAuth, problems } from '../../core/http/openapi.js';
import { lockEndpoint } from '../endpoints/endpoint-store.js';
import type { WebhookTestData } from '../event-data.js';
import { emitEventToEndpoint, recoverEndpointMessages } from '../redeliver.js';
import { endpointId, recoverBody, TAGS } from './endpoint-schemas.js';

const testRoute = defineRoute({
  method: 'post',
  path: '/{id}/test',
  'x-switchyard-permission': 'endpoints:write',
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
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Queue again every message that failed since a time',
  security: merchantAuth,
  request: { params: endpointId, body: jsonBodyOf(recoverBody) },
  responses: {
    202: jsonResponse(z.object({ messages: z.number().int() }), 'How many messages are pending again'),
    ...problems({ 404: ['not_found'], 409: ['conflict'] }),
  },
});

/** The text of the `webhook.test` event's `data.message`. */
const TEST_EVENT_MESSAGE = 'This is a test webhook from Switchyard. If its signature verified, your endpoint is ready.';

/** 409 `conflict` for an operation that would send to a disabled endpoint. */
function endpointDisabled(action: string): AppError {
  return new AppError('conflict', 409, `The endpoint is disabled; enable it (PATCH status "enabled") before ${action}.`);
}

/**
 * Adds the operations routes of docs/http-api.md "Endpoints" to the `/v1/endpoints` router: `POST /{id}/test` → 202
 * `{"eventId", "messageId"}` (a `webhook.test` to this endpoint only), and `POST /{id}/recover {"since"}` → 202
 * `{"messages": n}` (see `recoverEndpointMessages`). Another merchant's or a deleted endpoint is 404 `not_found`,
 * a disabled one 409 `conflict`.
 */
export function addOperationRoutes(app: OpenAPIHono<AppEnv>): void {
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
        data: { endpointId: endpoint.id, message: TEST_EVENT_MESSAGE } satisfies z.infer<typeof WebhookTestData>,
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
}
