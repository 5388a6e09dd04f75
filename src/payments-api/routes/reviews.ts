import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../core/deps.js';
import { NotFoundError } from '../../core/errors.js';
import { createRouter, defineRoute, idParam, isoTimestamp, jsonResponse, merchantAuth, pageOf, problems } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { getReview, listReviews, reviewView } from '../../core/risk/review-store.js';
import type { PaymentCommandOptions } from '../commands.js';
import { executePaymentCommand } from '../execute-command.js';
import { commandResult, idempotencyHeaders, paymentCommandsHook, replayed } from './payment-commands.js';

const TAGS = ['Risk'];
const RuleRef = z.object({ id: z.string(), name: z.string(), version: z.number().int(), action: z.enum(['allow', 'review', 'block']) });

const ReviewView = z
  .object({
    id: z.string().openapi({ example: 'rev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    paymentId: z.string().nullable().openapi({ description: 'Null while the payment of an API create operation is not stored yet' }),
    operationId: z.string().nullable().openapi({ description: 'The create operation, for a review opened on POST /v1/payments' }),
    status: z.enum(['open', 'approved', 'rejected']),
    reason: z.string().nullable(),
    compensation: z.enum(['refund', 'void', 'none', 'refund_required']).nullable().openapi({
      description: 'What the rejection did: refund or void through the PSP, nothing to undo, or refund_required (no PSP apiKey)',
    }),
    compensationOperationId: z.string().nullable(),
    compensationFailedAt: isoTimestamp().nullable().openapi({
      description: 'When the PSP refused the refund or void past its last retry (review.compensation_failed); a person must act',
    }),
    openedBy: RuleRef,
    openedAt: isoTimestamp(),
    closedAt: isoTimestamp().nullable(),
  })
  .openapi('Review');

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'List reviews, newest first',
  security: merchantAuth,
  request: {
    query: pageQuery('rev').extend({
      status: z.enum(['open', 'approved', 'rejected']).optional(),
      compensation: z.enum(['refund', 'void', 'none', 'refund_required']).optional(),
    }),
  },
  responses: { 200: jsonResponse(pageOf(ReviewView), 'A page of reviews') },
});
const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'Get a review',
  security: merchantAuth,
  request: { params: idParam('rev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c') },
  responses: { 200: jsonResponse(ReviewView, 'The review'), ...problems({ 404: ['not_found'] }) },
});

const json = <S extends z.ZodType>(schema: S, description: string) => ({ content: { 'application/json': { schema } }, description });
const decisionResponses = {
  ...problems({
    400: ['idempotency_key_missing', 'idempotency_key_invalid', 'invalid_request'],
    401: ['unauthorized'],
    404: ['not_found'],
    409: ['idempotency_key_in_progress', 'review_closed', 'invalid_payment_state'],
    422: ['idempotency_key_reused', 'url_not_allowed'],
    502: ['psp_request_rejected'],
  }),
};
const idParams = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'rev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
});
const approveRoute = createRoute({
  method: 'post',
  tags: TAGS,
  security: merchantAuth,
  path: '/{id}/approve',
  'x-switchyard-permission': 'risk:write',
  'x-switchyard-audit': 'own',
  summary: 'Approve an open review (review.closed)',
  request: { headers: idempotencyHeaders, params: idParams },
  responses: { 200: { ...json(ReviewView, 'The review, approved'), headers: replayed }, ...decisionResponses },
});
const rejectRoute = createRoute({
  method: 'post',
  tags: TAGS,
  security: merchantAuth,
  path: '/{id}/reject',
  'x-switchyard-permission': 'risk:write',
  'x-switchyard-audit': 'own',
  summary: 'Reject an open review: refund (captured) or void (authorized) through the PSP (review.closed)',
  request: {
    headers: idempotencyHeaders,
    params: idParams,
    body: { content: { 'application/json': { schema: z.object({ reason: z.string().trim().min(1).max(500) }).strict() } }, required: true },
  },
  responses: {
    200: {
      ...json(
        ReviewView.extend({ payment: commandResult.optional() }),
        'The review, rejected, with the payment and the compensating operation when one was sent',
      ),
      headers: replayed,
    },
    202: {
      ...json(
        ReviewView.extend({ payment: commandResult }),
        'The PSP did not answer in time: the compensation is pending and will be synced',
      ),
      headers: replayed,
    },
    ...decisionResponses,
  },
});

/**
 * `GET /v1/reviews?status=&compensation=`, `GET /v1/reviews/{id}`, `POST /v1/reviews/{id}/approve` and `/reject
 * {"reason"}` (docs/http-api.md "Risk"), mounted at `/v1/reviews`. Decisions require an Idempotency-Key and run as
 * payments commands ({@link executePaymentCommand}): a second decision is 409 `review_closed`; a rejection refunds
 * or voids through the source's PSP connector.
 */
export function reviewRoutes(options: PaymentCommandOptions = {}): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    return c.json(toPage(await listReviews(c.var.deps.sql, c.var.merchant.id, q), q.limit, reviewView) as never, 200);
  });
  app.openapi(getRoute, async (c) => {
    const review = await getReview(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!review) throw new NotFoundError('Review');
    return c.json(reviewView(review) as never, 200);
  });

  const decisions = new OpenAPIHono<AppEnv>({ defaultHook: paymentCommandsHook as never });
  const run = (c: Context<AppEnv>, key: string, params: unknown, decision: 'approve' | 'reject', reason?: string) =>
    executePaymentCommand(
      c.var.deps,
      {
        merchantId: c.var.merchant.id,
        idempotencyKey: key,
        method: c.req.method,
        path: c.req.path,
        params,
        command: { kind: 'review', reviewId: c.req.param('id')!, decision, ...(reason !== undefined ? { reason } : {}) },
      },
      options,
    );
  decisions.openapi(approveRoute, async (c) => (await run(c, c.req.valid('header')['idempotency-key'], {}, 'approve')) as never);
  decisions.openapi(rejectRoute, async (c) => {
    const body = c.req.valid('json');
    return (await run(c, c.req.valid('header')['idempotency-key'], body, 'reject', body.reason)) as never;
  });
  app.route('/', decisions);
  return app;
}
