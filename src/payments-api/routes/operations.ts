import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { NotFoundError } from '../../core/errors.js';
import { getPayment } from '../../core/payments/payment-store.js';
import { operationsView } from '../../core/payments/payment-view.js';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, idParam, isoTimestamp, jsonResponse, merchantAuth, problems } from '../../core/http/openapi.js';

const OPERATION_KINDS = ['authorization', 'capture', 'refund', 'void', 'dispute'] as const;
const OUTCOMES = ['pending', 'succeeded', 'failed', 'open', 'won', 'lost', 'reversed'] as const;
const amount = z.number().int().nullable().openapi({ description: 'Integer minor units; null when the PSP gave none' });

/** One operation of a payment as the API shows it (`operationsView` of src/core/payments). */
export const OperationView = z
  .object({
    kind: z.enum(OPERATION_KINDS),
    pspReference: z
      .string()
      .openapi({ description: 'The PSP’s reference of the operation (e.g. an Adyen modification pspReference, a Stripe refund id)' }),
    amount,
    outcome: z
      .enum([...OUTCOMES, 'flagged'])
      .openapi({ description: 'The highest-ranked outcome reported; `flagged`: a refund beyond the captured amount' }),
    flagReason: z.string().nullable(),
    history: z.array(z.object({ outcome: z.enum(OUTCOMES), amount, cause: z.string(), at: isoTimestamp() })),
  })
  .openapi('PaymentOperation');

const operationsRoute = defineRoute({
  method: 'get',
  path: '/{id}/operations',
  'x-switchyard-permission': 'payments:read',
  tags: ['Payments'],
  summary: 'The payment’s operations (authorization, captures, refunds, void, disputes), first reported first',
  security: merchantAuth,
  request: { params: idParam('pay_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c') },
  responses: { 200: jsonResponse(z.object({ data: z.array(OperationView) }), 'The operations'), ...problems({ 404: ['not_found'] }) },
});

/**
 * `GET /v1/payments/{id}/operations` → `{"data": [OperationView]}`: the payment's
 * operations in the order first reported, amounts in minor units; a refund beyond the
 * captured amount is `outcome: "flagged"`. Another merchant's payment is 404 `not_found`.
 */
export function operationRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(operationsRoute, async (c) => {
    const p = await getPayment(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!p) throw new NotFoundError('Payment');
    return c.json({ data: operationsView(p) }, 200);
  });
  return app;
}
