import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { jsonBody, queryParams } from '../../core/http/validate.js';
import { getEvent, listAttempts, listEvents, type EventRow } from '../event-store.js';
import { redeliverEvent, type RequeueRefusal } from '../messages.js';

const decoder = new TextDecoder();

const redeliverBody = z.object({ endpointId: z.string().min(1).max(64).optional() }).strict();

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

/**
 * The event routes of CONTRACT.md "Events and attempts", mounted at `/v1/events`; another
 * merchant's event is 404 `not_found`.
 *
 * - `GET /?type=` (paged), `GET /{id}`, `GET /{id}/attempts`.
 * - `POST /{id}/redeliver {"endpointId"?}` → 202 `{"messages": [ids]}`: each message of the
 *   event (to enabled endpoints), or the one to `endpointId`, is pending again with ONE
 *   more attempt, numbered attempts + 1, queued now. Replays make attempts, never messages:
 *   the receiver sees the same `webhook-id`. The delivery task schedules retries by
 *   attempt number, so a message already past the retry schedule gets exactly one attempt;
 *   one inside it resumes the schedule if that attempt fails. An `endpointId` with no
 *   message for the event gets its first one when it subscribes to the event's type
 *   (else 404 `not_found`); an unknown or deleted endpoint is 404, a disabled one 409
 *   `conflict`.
 */
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
  app.post('/:id/redeliver', async (c) => {
    const body = await jsonBody(c, redeliverBody);
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const event = await getEvent(sql, merchantId, c.req.param('id'));
    if (!event) throw new NotFoundError('Event');
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
