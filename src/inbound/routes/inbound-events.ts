import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { queryParams } from '../../core/http/validate.js';
import { getInboundEvent, listInboundEvents, type InboundEventRow } from '../inbound-event-store.js';

const decoder = new TextDecoder();

function view(e: InboundEventRow, withBody: boolean): Record<string, unknown> {
  return {
    id: e.id,
    sourceId: e.sourceId,
    eventId: e.eventId,
    eventType: e.eventType,
    status: e.status,
    paymentId: e.paymentId,
    error: e.error,
    receivedAt: e.receivedAt.toISOString(),
    processedAt: e.processedAt?.toISOString() ?? null,
    ...(withBody ? { headers: e.headers, rawBody: decoder.decode(e.rawBody) } : {}),
  };
}

/** `GET /v1/inbound-events?sourceId=&status=` and `GET /v1/inbound-events/{id}` (with the raw body). */
export function inboundEventRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const q = queryParams(
      c,
      pageQuery.extend({
        sourceId: z.string().max(64).optional(),
        status: z.enum(['received', 'processed', 'ignored', 'failed']).optional(),
      }),
    );
    const rows = await listInboundEvents(c.var.deps.sql, c.var.merchant.id, q);
    return c.json(toPage(rows, q.limit, (r) => view(r, false)));
  });
  app.get('/:id', async (c) => {
    const e = await getInboundEvent(c.var.deps.sql, c.var.merchant.id, c.req.param('id'));
    if (!e) throw new NotFoundError('Inbound event');
    return c.json(view(e, true));
  });
  return app;
}
