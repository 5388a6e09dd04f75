import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, jsonResponse, merchantAuth } from '../../core/http/openapi.js';
import { dataJsonSchema, EVENT_CATALOGUE } from '../event-catalogue.js';

const EventTypeView = z
  .object({
    type: z.string().openapi({ example: 'payment.captured' }),
    description: z.string(),
    schema: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema (draft 2020-12) of the event body’s `data`.' }),
    example: z.unknown().openapi({ description: 'A `data` the schema accepts.' }),
  })
  .openapi('EventType');

const listEventTypes = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'any',
  tags: ['Events'],
  summary: 'Every event type Switchyard emits, with the JSON Schema of its data',
  security: merchantAuth,
  responses: { 200: jsonResponse(z.object({ data: z.array(EventTypeView) }), 'The event catalogue') },
});

/**
 * `GET /v1/event-types` → 200 `{"data": [{"type", "description", "schema", "example"}]}`: the event catalogue
 * (src/app/event-catalogue.ts), `schema` the JSON Schema of `data` generated from the zod schema the code builds it with.
 */
export function eventTypeRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  // Built once per router: the catalogue is fixed for the process.
  const data = EVENT_CATALOGUE.map((e) => ({ type: e.type, description: e.description, schema: dataJsonSchema(e), example: e.example }));
  app.openapi(listEventTypes, (c) => c.json({ data }, 200));
  return app;
}
