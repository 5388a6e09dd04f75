// Bulk replays (docs/http-api.md "Replays"): start one, follow its progress, cancel it.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import {
  createRouter,
  defineRoute,
  idParam,
  isoTimestamp,
  jsonBodyOf,
  jsonResponse,
  merchantAuth,
  problems,
} from '../../core/http/openapi.js';
import { getEndpoint } from '../endpoints/endpoint-store.js';
import { cancelReplay, startReplay } from '../replay.js';
import { getReplay, type Replay } from '../replay-store.js';

const TAGS = ['Events'];
const instant = z.iso.datetime({ offset: true });

const replayBody = z
  .object({
    endpointId: z.string().min(1).optional().openapi({ description: 'Only messages to this endpoint; default every endpoint.' }),
    since: instant.openapi({
      description: 'Messages created at or after this time (ISO 8601 with an offset).',
      example: '2026-12-01T00:00:00Z',
    }),
    until: instant.optional().openapi({ description: 'Messages created before this time; default now.' }),
    status: z
      .array(z.enum(['failed', 'pending']))
      .min(1)
      .optional()
      .openapi({ description: 'Message statuses to replay; default ["failed"].' }),
    responseStatusClass: z
      .array(z.enum(['4xx', '5xx', 'none']))
      .min(1)
      .optional()
      .openapi({ description: 'Only messages whose last response was of one of these classes (`none`: no response).' }),
    eventTypes: z.array(z.string().min(1).max(100)).min(1).max(50).optional(),
  })
  .strict()
  .openapi('CreateReplay');

const ReplayView = z
  .object({
    id: z.string().openapi({ example: 'rpl_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    status: z.enum(['running', 'completed', 'cancelled']),
    endpointId: z.string().nullable(),
    since: isoTimestamp(),
    until: isoTimestamp(),
    statuses: z.array(z.enum(['failed', 'pending'])),
    responseStatusClass: z.array(z.enum(['4xx', '5xx', 'none'])).nullable(),
    eventTypes: z.array(z.string()).nullable(),
    total: z
      .number()
      .int()
      .openapi({ description: 'Messages that matched when the replay started (what `done` reaches when it completes).' }),
    done: z.number().int().openapi({ description: 'Messages looked at so far: `queued` + `skipped`.' }),
    queued: z.number().int().openapi({ description: 'Messages given one more attempt.' }),
    skipped: z.number().int().openapi({ description: 'Messages skipped because an attempt of theirs was already due or in flight.' }),
    createdAt: isoTimestamp(),
    finishedAt: isoTimestamp().nullable(),
  })
  .openapi('Replay');

function replayView(r: Replay): z.infer<typeof ReplayView> {
  return {
    id: r.id,
    status: r.status,
    endpointId: r.endpointId,
    since: r.since.toISOString(),
    until: r.until.toISOString(),
    statuses: r.statuses,
    responseStatusClass: r.responseClasses,
    eventTypes: r.eventTypes,
    total: r.total,
    done: r.done,
    queued: r.queued,
    skipped: r.skipped,
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

const replayId = idParam('rpl_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');

const createRoute = defineRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'events:write',
  tags: TAGS,
  summary: 'Replay every message that matches, in the background',
  security: merchantAuth,
  request: { body: jsonBodyOf(replayBody) },
  responses: {
    202: jsonResponse(ReplayView, 'The replay, running'),
    ...problems({ 400: ['invalid_request'], 404: ['not_found'], 409: ['conflict'] }),
  },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'events:read',
  tags: TAGS,
  summary: 'A replay and its progress',
  security: merchantAuth,
  request: { params: replayId },
  responses: { 200: jsonResponse(ReplayView, 'The replay'), ...problems({ 404: ['not_found'] }) },
});

const cancelRoute = defineRoute({
  method: 'post',
  path: '/{id}/cancel',
  'x-switchyard-permission': 'events:write',
  tags: TAGS,
  summary: 'Cancel a replay',
  description: 'No further page is queued; attempts already queued stay. Cancelling a cancelled replay answers it as it is.',
  security: merchantAuth,
  request: { params: replayId },
  responses: { 200: jsonResponse(ReplayView, 'The replay, cancelled'), ...problems({ 404: ['not_found'], 409: ['conflict'] }) },
});

/**
 * The replay routes, mounted at `/v1/replays`: `POST /` → 202 the replay (`running`); `GET /{id}` → its counts;
 * `POST /{id}/cancel` → 200 (409 `conflict` when it had completed). A `since` not before `until` or in the future is 400
 * `invalid_request`; an unknown endpoint (or another merchant's) 404 `not_found`, a disabled one 409 `conflict`.
 */
export function replayRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();

  app.openapi(createRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const now = clock();
    const since = new Date(body.since);
    const until = body.until === undefined || new Date(body.until) > now ? now : new Date(body.until);
    if (since >= until) {
      const message = 'since must be before until (and not in the future)';
      throw new ValidationError([{ path: ['since'], message }], `The request failed validation: since: ${message}.`);
    }
    if (body.endpointId !== undefined) {
      const ep = await getEndpoint(sql, merchantId, body.endpointId);
      if (!ep) throw new NotFoundError('Endpoint');
      if (ep.status !== 'enabled') {
        throw new AppError('conflict', 409, 'The endpoint is disabled; enable it (PATCH status "enabled") before replaying its messages.');
      }
    }
    const replay = await sql.begin((tx) =>
      startReplay(
        tx,
        {
          merchantId,
          endpointId: body.endpointId ?? null,
          since,
          until,
          statuses: body.status ? [...new Set(body.status)] : ['failed'],
          responseClasses: body.responseStatusClass ? [...new Set(body.responseStatusClass)] : null,
          eventTypes: body.eventTypes ?? null,
        },
        now,
      ),
    );
    return c.json(replayView(replay), 202);
  });

  app.openapi(getRoute, async (c) => {
    const replay = await getReplay(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!replay) throw new NotFoundError('Replay');
    return c.json(replayView(replay), 200);
  });

  app.openapi(cancelRoute, async (c) => {
    const { sql, clock } = c.var.deps;
    const replay = await sql.begin((tx) => cancelReplay(tx, c.var.merchant.id, c.req.valid('param').id, clock()));
    if (!replay) throw new NotFoundError('Replay');
    if (replay.status === 'completed') throw new AppError('conflict', 409, 'The replay has already completed.');
    return c.json(replayView(replay), 200);
  });

  return app;
}
