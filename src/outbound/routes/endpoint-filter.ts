// Payload filters of endpoints: checking one when it is saved, and `POST /v1/endpoints/{id}/filter/test`.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { AppError, NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { compileEventFilter, filterableEvent } from '../../core/events/event-filter.js';
import { defineRoute, jsonBodyOf, jsonResponse, merchantAuth, problems } from '../../core/http/openapi.js';
import { getEndpoint } from '../endpoints/endpoint-store.js';
import { endpointId, FilterTestView, filterTestBody, TAGS } from './endpoint-schemas.js';

const filterTestRoute = defineRoute({
  method: 'post',
  path: '/{id}/filter/test',
  tags: TAGS,
  summary: 'Test an event against this endpoint’s event types and payload filter',
  description:
    '`matches` is true when a message would be made for the event: its type is one of `eventTypes` (or the endpoint takes every type) and the filter yields true (or there is none). A filter that errors on the event (a field it lacks) does not match.',
  security: merchantAuth,
  'x-switchyard-permission': 'endpoints:read',
  request: { params: endpointId, body: jsonBodyOf(filterTestBody) },
  responses: { 200: jsonResponse(FilterTestView, 'Whether the event matches'), ...problems({ 404: ['not_found'] }) },
});

/**
 * `filter` as it will be stored: unchanged when it compiles (event-filter.ts `compileEventFilter`), else 400
 * `invalid_filter` naming the 0-based character position and the reason (also in `errors[0].path`:
 * `["filter", <position>]`). Null and undefined pass through.
 */
export function checkedFilter<T extends string | null | undefined>(filter: T): T {
  if (typeof filter !== 'string') return filter;
  const compiled = compileEventFilter(filter);
  if (compiled.ok) return filter;
  const { position, reason } = compiled.error;
  throw new AppError('invalid_filter', 400, `The filter is invalid at position ${position}: ${reason}.`, {
    errors: [{ path: ['filter', position], message: reason }],
  });
}

/**
 * Adds `POST /{id}/filter/test {"event": {"type", "data"}}` → 200 `{"matches", "typeMatches", "filterMatches"}` to the
 * `/v1/endpoints` router. Another merchant's or a deleted endpoint is 404 `not_found`.
 */
export function addFilterRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(filterTestRoute, async (c) => {
    const endpoint = await getEndpoint(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    const { event } = c.req.valid('json');
    const typeMatches = endpoint.eventTypes === null || endpoint.eventTypes.includes(event.type);
    let filterMatches = true;
    if (endpoint.filter !== null) {
      const compiled = compileEventFilter(endpoint.filter);
      filterMatches = compiled.ok && compiled.value.matches(filterableEvent(event.type, event.data));
    }
    return c.json({ matches: typeMatches && filterMatches, typeMatches, filterMatches }, 200);
  });
}
