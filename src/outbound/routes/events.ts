import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { AppError, NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import {
  createRouter,
  defineRoute,
  isoTimestamp,
  idParam,
  jsonBodyOf,
  jsonResponse,
  merchantAuth,
  pageOf,
  problems,
} from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { getEvent, listAttempts, listEvents, type EventRow } from '../event-store.js';
import { redeliverEvent, type RequeueRefusal } from '../redeliver.js';

const decoder = new TextDecoder();

const redeliverBody = z
  .object({
    endpointId: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({ description: 'Only the message to this endpoint (default: every message of the event).' }),
  })
  .strict()
  .openapi('Redeliver');

const EventView = z
  .object({
    id: z.string().openapi({ example: 'evt_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    type: z.string().openapi({ example: 'payment.captured' }),
    paymentId: z.string().nullable(),
    payload: z.unknown().openapi({
      description:
        'The body that was signed and sent: `{"type", "timestamp", "data"}`; in a list, null once expired (SWITCHYARD_RETENTION_EVENT_PAYLOAD_DAYS).',
    }),
    createdAt: isoTimestamp(),
  })
  .openapi('Event');

const AttemptView = z
  .object({
    id: z.string().openapi({ example: 'att_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    messageId: z.string(),
    endpointId: z.string(),
    attemptNumber: z.number().int(),
    status: z.enum(['succeeded', 'failed']),
    responseStatus: z.number().int().nullable(),
    responseBody: z.string().nullable().openapi({ description: 'The first 4 KiB of the response body.' }),
    error: z.string().nullable(),
    durationMs: z.number(),
    attemptedAt: isoTimestamp(),
    nextAttemptAt: isoTimestamp().nullable(),
  })
  .openapi('DeliveryAttempt');

const TAGS = ['Events'];
const eventId = idParam('evt_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'events:read',
  tags: TAGS,
  summary: 'List events emitted to the merchant, newest first',
  security: merchantAuth,
  request: { query: pageQuery('evt').extend({ type: z.string().max(100).optional() }) },
  responses: { 200: jsonResponse(pageOf(EventView), 'A page of events') },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'events:read',
  tags: TAGS,
  summary: 'Get an event',
  security: merchantAuth,
  request: { params: eventId },
  responses: { 200: jsonResponse(EventView, 'The event'), ...problems({ 404: ['not_found'], 410: ['event_expired'] }) },
});

const attemptsRoute = defineRoute({
  method: 'get',
  path: '/{id}/attempts',
  'x-switchyard-permission': 'events:read',
  tags: TAGS,
  summary: 'Every delivery attempt of the event, oldest first',
  security: merchantAuth,
  request: { params: eventId },
  responses: { 200: jsonResponse(pageOf(AttemptView), 'The attempts (one page: `hasMore` is false)'), ...problems({ 404: ['not_found'] }) },
});

const redeliverRoute = defineRoute({
  method: 'post',
  path: '/{id}/redeliver',
  'x-switchyard-permission': 'events:write',
  tags: TAGS,
  summary: 'Queue one more attempt of the event’s messages',
  security: merchantAuth,
  request: { params: eventId, body: { ...jsonBodyOf(redeliverBody), required: false } },
  responses: {
    202: jsonResponse(z.object({ messages: z.array(z.string()) }), 'The messages queued again'),
    ...problems({ 404: ['not_found'], 409: ['conflict'], 410: ['event_expired'] }),
  },
});

/** The problem for a refused redelivery. */
function redeliverRefused(error: RequeueRefusal): AppError {
  switch (error) {
    case 'endpoint_not_found':
      return new NotFoundError('Endpoint');
    case 'not_subscribed':
      return new AppError('not_found', 404, 'The endpoint has no message for this event and does not subscribe to its type.');
    case 'endpoint_disabled':
      return new AppError('conflict', 409, 'The endpoint is disabled; enable it (PATCH status "enabled") before redelivering to it.');
  }
}

/** 410 `event_expired`: the event's payload was purged (retention); its attempts stay listed. */
function eventExpired(e: EventRow): AppError {
  return new AppError(
    'event_expired',
    410,
    `The payload of event ${e.id} (created ${e.createdAt.toISOString()}) has expired under the retention setting; its attempts are still listed at /v1/events/${e.id}/attempts.`,
  );
}

/** The event as the API shows it: its metadata and the body that was signed, parsed (null once expired). */
function eventView(e: EventRow): z.infer<typeof EventView> {
  return {
    id: e.id,
    type: e.type,
    paymentId: e.paymentId,
    payload: e.payload && (JSON.parse(decoder.decode(e.payload)) as unknown),
    createdAt: e.createdAt.toISOString(),
  };
}

/**
 * The event routes of docs/http-api.md "Events and attempts", mounted at `/v1/events`; another merchant's event is 404
 * `not_found`. `GET /?type=` (paged), `GET /{id}`, `GET /{id}/attempts`, and `POST /{id}/redeliver {"endpointId"?}`
 * → 202 `{"messages": [ids]}` (see `redeliverEvent`): retries are scheduled by attempt number, so a message past
 * the schedule gets one attempt and one inside it resumes the schedule. An unknown, deleted or unsubscribed
 * endpoint is 404, a disabled one 409 `conflict`. An event whose payload expired (retention) is 410 `event_expired`
 * on `GET /{id}` and redeliver, listed with `payload: null`, and its attempts are still listed.
 */
export function eventRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listEvents(c.var.deps.sql, c.var.merchant.id, q);
    return c.json(toPage(rows, q.limit, eventView), 200);
  });
  app.openapi(getRoute, async (c) => {
    const e = await getEvent(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!e) throw new NotFoundError('Event');
    if (!e.payload) throw eventExpired(e);
    return c.json(eventView(e), 200);
  });
  app.openapi(attemptsRoute, async (c) => {
    const e = await getEvent(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!e) throw new NotFoundError('Event');
    const attempts = await listAttempts(c.var.deps.sql, e.id);
    return c.json(
      {
        data: attempts.map((a) => ({
          ...a,
          attemptedAt: a.attemptedAt.toISOString(),
          nextAttemptAt: a.nextAttemptAt?.toISOString() ?? null,
        })),
        hasMore: false,
      },
      200,
    );
  });
  app.openapi(redeliverRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const event = await getEvent(sql, merchantId, c.req.valid('param').id);
    if (!event) throw new NotFoundError('Event');
    if (!event.payload) throw eventExpired(event);
    const outcome = await sql.begin((tx) =>
      redeliverEvent(tx, {
        merchantId,
        event,
        ...(body.endpointId === undefined ? {} : { endpointId: body.endpointId }),
        at: clock(),
      }),
    );
    if (!outcome.ok) throw redeliverRefused(outcome.error);
    return c.json({ messages: outcome.value }, 202);
  });
  return app;
}
