import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, isoTimestamp, idParam, jsonResponse, merchantAuth, pageOf, problems } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { getInboundEvent, listInboundEvents, type InboundEventRow } from '../inbound-event-store.js';

const decoder = new TextDecoder();

const STATUSES = ['received', 'processed', 'ignored', 'failed'] as const;

const InboundEventSummary = z
  .object({
    id: z.string().openapi({ example: 'iev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    sourceId: z.string(),
    eventId: z.string().openapi({ description: 'The PSP’s event id (unique per source).' }),
    eventType: z.string().nullable(),
    status: z.enum(STATUSES),
    stale: z.boolean().openapi({
      description:
        '`processed` but changed nothing: a duplicate of what the payment already had, or an event that arrived after its successors.',
    }),
    paymentId: z.string().nullable(),
    error: z.string().nullable(),
    receivedAt: isoTimestamp(),
    processedAt: isoTimestamp().nullable(),
  })
  .openapi('InboundEventSummary');

const InboundEventView = InboundEventSummary.extend({
  headers: z
    .record(z.string(), z.string())
    .nullable()
    .openapi({ description: 'The request headers as received (lower-cased names); null once expired (retention).' }),
  rawBody: z
    .string()
    .nullable()
    .openapi({ description: 'The request body exactly as received, decoded as UTF-8; null once expired (retention).' }),
}).openapi('InboundEvent');

type Summary = z.infer<typeof InboundEventSummary>;

function summary(e: InboundEventRow): Summary {
  return {
    id: e.id,
    sourceId: e.sourceId,
    eventId: e.eventId,
    eventType: e.eventType,
    status: e.status as Summary['status'],
    stale: e.stale,
    paymentId: e.paymentId,
    error: e.error,
    receivedAt: e.receivedAt.toISOString(),
    processedAt: e.processedAt?.toISOString() ?? null,
  };
}

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'events:read',
  tags: ['Inbound events'],
  summary: 'List what PSPs sent, newest first',
  security: merchantAuth,
  request: {
    query: pageQuery('iev').extend({
      sourceId: z.string().max(64).optional(),
      status: z.enum(STATUSES).optional(),
    }),
  },
  responses: { 200: jsonResponse(pageOf(InboundEventSummary), 'A page of inbound events (without bodies)') },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'events:read',
  tags: ['Inbound events'],
  summary: 'Get an inbound event with its headers and raw body',
  security: merchantAuth,
  request: { params: idParam('iev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c') },
  responses: { 200: jsonResponse(InboundEventView, 'The inbound event'), ...problems({ 404: ['not_found'] }) },
});

/** `GET /v1/inbound-events?sourceId=&status=` and `GET /v1/inbound-events/{id}` (with the raw body). */
export function inboundEventRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listInboundEvents(c.var.deps.sql, c.var.merchant.id, q);
    return c.json(toPage(rows, q.limit, summary), 200);
  });
  app.openapi(getRoute, async (c) => {
    const e = await getInboundEvent(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!e) throw new NotFoundError('Inbound event');
    return c.json({ ...summary(e), headers: e.headers, rawBody: e.rawBody && decoder.decode(e.rawBody) }, 200);
  });
  return app;
}
