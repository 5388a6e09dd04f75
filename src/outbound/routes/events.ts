import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { queryParams } from '../../core/http/validate.js';
import { getEvent, listAttempts, listEvents, type EventRow } from '../event-store.js';

const decoder = new TextDecoder();

/** The event as the API shows it: its metadata and the body that was signed, parsed. */
function eventView(e: EventRow): Record<string, unknown> {
  return {
    id: e.id,
    type: e.type,
    paymentId: e.paymentId,
    payload: JSON.parse(decoder.decode(e.payload)) as unknown,
    createdAt: e.createdAt.toISOString(),
  };
}

/** `GET /v1/events?type=`, `GET /v1/events/{id}`, `GET /v1/events/{id}/attempts` (CONTRACT.md). */
export function eventRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const q = queryParams(c, pageQuery.extend({ type: z.string().max(100).optional() }));
    const rows = await listEvents(c.var.deps.sql, c.var.merchant.id, q);
    return c.json(toPage(rows, q.limit, eventView));
  });
  app.get('/:id', async (c) => {
    const e = await getEvent(c.var.deps.sql, c.var.merchant.id, c.req.param('id'));
    if (!e) throw new NotFoundError('Event');
    return c.json(eventView(e));
  });
  app.get('/:id/attempts', async (c) => {
    const e = await getEvent(c.var.deps.sql, c.var.merchant.id, c.req.param('id'));
    if (!e) throw new NotFoundError('Event');
    const attempts = await listAttempts(c.var.deps.sql, e.id);
    return c.json({
      data: attempts.map((a) => ({
        ...a,
        attemptedAt: a.attemptedAt.toISOString(),
        nextAttemptAt: a.nextAttemptAt?.toISOString() ?? null,
      })),
      hasMore: false,
    });
  });
  return app;
}
