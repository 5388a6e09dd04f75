// GET /v1/endpoints/{id}/stats: an endpoint's attempts by outcome and status class, success rate and latency, per hour.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { defineRoute, isoTimestamp, jsonResponse, merchantAuth, problems } from '../../core/http/openapi.js';
import { getEndpoint } from '../endpoints/endpoint-store.js';
import { endpointStats, type StatsBucket } from '../endpoint-stats-store.js';
import { endpointId, TAGS } from './endpoint-schemas.js';

/** The default window, and the longest: hours back from now. */
const DEFAULT_HOURS = 24;
const MAX_HOURS = 31 * 24;

const statsQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional().openapi({
    description: 'ISO 8601 with an offset; at most 31 days back, default 24 hours back.',
    example: '2026-12-01T00:00:00Z',
  }),
});

const Counts = z.object({
  attempts: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  byStatusClass: z
    .object({ '2xx': z.number().int(), '3xx': z.number().int(), '4xx': z.number().int(), '5xx': z.number().int(), none: z.number().int() })
    .openapi({ description: '`none`: no response (timeout, connection refused, blocked, auth_failed).' }),
  successRate: z.number().nullable().openapi({ description: 'succeeded / attempts, 0–1; null without attempts.' }),
  latencyMs: z.object({ p50: z.number().int().nullable(), p95: z.number().int().nullable() }),
});

const StatsView = Counts.extend({
  since: isoTimestamp(),
  until: isoTimestamp(),
  hours: z.array(Counts.extend({ hour: isoTimestamp() })).openapi({ description: 'Hours that had attempts, oldest first.' }),
}).openapi('EndpointStats');

const statsRoute = defineRoute({
  method: 'get',
  path: '/{id}/stats',
  'x-switchyard-permission': 'endpoints:read',
  tags: TAGS,
  summary: "An endpoint's delivery stats, per hour",
  security: merchantAuth,
  request: { params: endpointId, query: statsQuery },
  responses: { 200: jsonResponse(StatsView, 'Attempts made since `since`'), ...problems({ 400: ['invalid_request'], 404: ['not_found'] }) },
});

function counts(b: StatsBucket | undefined): z.infer<typeof Counts> {
  const n = b?.attempts ?? 0;
  return {
    attempts: n,
    succeeded: b?.succeeded ?? 0,
    failed: b?.failed ?? 0,
    byStatusClass: {
      '2xx': b?.status2xx ?? 0,
      '3xx': b?.status3xx ?? 0,
      '4xx': b?.status4xx ?? 0,
      '5xx': b?.status5xx ?? 0,
      none: b?.statusNone ?? 0,
    },
    successRate: n === 0 ? null : (b?.succeeded ?? 0) / n,
    latencyMs: { p50: b?.p50Ms ?? null, p95: b?.p95Ms ?? null },
  };
}

/**
 * Adds `GET /{id}/stats?since=` to the `/v1/endpoints` router (docs/http-api.md "Endpoints"): the endpoint's attempts
 * since `since` (default 24 h back) until now, in total and per hour. A `since` in the future or more than 31 days
 * back is 400 `invalid_request`; another merchant's or a deleted endpoint is 404 `not_found`.
 */
export function addStatsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(statsRoute, async (c) => {
    const { sql, clock } = c.var.deps;
    const id = c.req.valid('param').id;
    const q = c.req.valid('query');
    const until = clock();
    const since = q.since ? new Date(q.since) : new Date(until.getTime() - DEFAULT_HOURS * 3_600_000);
    if (since > until || until.getTime() - since.getTime() > MAX_HOURS * 3_600_000) {
      const message = 'since must be in the past and at most 31 days back';
      throw new ValidationError([{ path: ['since'], message }], `The request failed validation: since: ${message}.`);
    }
    if (!(await getEndpoint(sql, c.var.merchant.id, id))) throw new NotFoundError('Endpoint');
    const [total, ...hours] = await endpointStats(sql, id, since, until);
    return c.json(
      {
        ...counts(total),
        since: since.toISOString(),
        until: until.toISOString(),
        hours: hours.map((h) => ({ ...counts(h), hour: h.hour!.toISOString() })),
      },
      200,
    );
  });
}
