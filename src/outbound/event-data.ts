// The `data` of the events the outbound room emits, as zod schemas: the code builds each `data` as their type, and the
// event catalogue (GET /v1/event-types, the OpenAPI `webhooks`) publishes them as JSON Schema.
import { z } from 'zod';

/** `endpoint.disabled`: one of the merchant's endpoints was disabled (a 410, or failing every attempt for too long). */
export const EndpointDisabledData = z.object({
  endpointId: z.string().describe('The endpoint disabled (`ep_…`).'),
  url: z.string().describe('Its URL.'),
  reason: z.string().describe('Why, e.g. `the endpoint answered 410 Gone`.'),
  disabledAt: z.iso.datetime().describe('When, ISO 8601.'),
});

/** `webhook.test`: sent by `POST /v1/endpoints/{id}/test` to that endpoint only. */
export const WebhookTestData = z.object({
  endpointId: z.string().describe('The endpoint tested (`ep_…`).'),
  message: z.string().describe('A fixed sentence saying the endpoint is ready if the signature verified.'),
});
