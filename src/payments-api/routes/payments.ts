import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { NotFoundError } from '../../core/errors.js';
import { listPaymentLedger } from '../../core/ledger/ledger-store.js';
import { toJsonAmount } from '../../core/money.js';
import { getPayment, listPayments, listTransitions } from '../../core/payments/payment-store.js';
import { paymentView } from '../../core/payments/payment-view.js';
import { listPaymentDecisions, possibleDuplicateOf } from '../../core/risk/risk-store.js';
import { latestReviewOf } from '../../core/risk/review-store.js';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, isoTimestamp, idParam, jsonResponse, merchantAuth, pageOf, problems } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { OperationView } from './operations.js';
import { minorAmount } from './schemas.js';

const STATUSES = [
  'pending',
  'authorized',
  'captured',
  'partially_refunded',
  'refunded',
  'failed',
  'voided',
  'disputed',
  'charged_back',
] as const;

/** A payment as `GET /v1/payments/{id}` answers it (paymentView), and as events carry it in `data`. */
export const PaymentView = z
  .object({
    id: z.string().openapi({ example: 'pay_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    sourceId: z.string(),
    pspReference: z.string(),
    status: z.enum(STATUSES),
    amount: minorAmount('The authorized amount'),
    currency: z.string().openapi({ example: 'EUR' }),
    capturedAmount: minorAmount('Captured so far'),
    refundedAmount: minorAmount('Refunded so far'),
    chargedBackAmount: minorAmount('Lost disputes not reversed'),
    overRefundedAmount: minorAmount('Refunds a PSP reported beyond the captured amount: recorded, flagged, never posted'),
    flags: z.array(z.enum(['over_refund'])),
    merchantReference: z.string().nullable(),
    operations: z.array(OperationView),
    possibleDuplicateOf: z.string().nullable().optional().openapi({
      description: '`GET /v1/payments/{id}` only: an earlier payment with the same duplicate fingerprint (README "Risk rules")',
    }),
    review: z
      .object({ id: z.string(), status: z.enum(['open', 'approved', 'rejected']) })
      .nullable()
      .optional()
      .openapi({ description: '`GET /v1/payments/{id}` only: the latest risk review of the payment (README "Risk rules")' }),
    createdAt: isoTimestamp(),
    updatedAt: isoTimestamp(),
  })
  .openapi('Payment');
type PaymentJson = z.infer<typeof PaymentView>;

const Transition = z
  .object({ from: z.string().nullable(), to: z.string(), cause: z.string(), at: isoTimestamp() })
  .openapi('PaymentTransition');

const LedgerTransactionView = z
  .object({
    id: z.string(),
    kind: z.string(),
    cause: z.string(),
    createdAt: isoTimestamp(),
    entries: z.array(
      z.object({
        account: z.string().openapi({ example: 'psp_receivable' }),
        direction: z.enum(['debit', 'credit']),
        amount: minorAmount('The amount'),
        currency: z.string(),
      }),
    ),
  })
  .openapi('LedgerTransaction');

const RuleRefView = z.object({ id: z.string(), name: z.string(), version: z.number().int(), action: z.enum(['allow', 'review', 'block']) });
const RiskDecisionView = z
  .object({
    stage: z
      .enum(['api', 'inbound'])
      .openapi({ description: '`api`: on POST /v1/payments; `inbound`: when a webhook authorized or captured it' }),
    action: z.enum(['allow', 'review', 'block']),
    decidedBy: RuleRefView.nullable().openapi({ description: 'The rule that decided; null when none matched' }),
    matched: z.array(RuleRefView),
    evaluated: z.array(RuleRefView),
    attributes: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The attribute values the rules saw (int attributes as decimal strings)' }),
    operationId: z.string().nullable(),
    cause: z.string(),
    decidedAt: isoTimestamp(),
  })
  .openapi('RiskDecision');

const listPaymentsQuery = pageQuery('pay').extend({
  status: z.enum(STATUSES).optional(),
  pspReference: z.string().max(255).optional(),
  sourceId: z.string().max(64).optional(),
});

const paymentId = idParam('pay_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');
const notFound = problems({ 404: ['not_found'] });

const listPaymentsRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'payments:read',
  tags: ['Payments'],
  summary: 'List payments, newest first',
  security: merchantAuth,
  request: { query: listPaymentsQuery },
  responses: { 200: jsonResponse(pageOf(PaymentView), 'A page of payments') },
});

const getPaymentRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'payments:read',
  tags: ['Payments'],
  summary: 'Get a payment',
  security: merchantAuth,
  request: { params: paymentId },
  responses: { 200: jsonResponse(PaymentView, 'The payment'), ...notFound },
});

const transitionsRoute = defineRoute({
  method: 'get',
  path: '/{id}/transitions',
  'x-switchyard-permission': 'payments:read',
  tags: ['Payments'],
  summary: 'The payment’s audit trail, oldest first',
  security: merchantAuth,
  request: { params: paymentId },
  responses: { 200: jsonResponse(z.object({ data: z.array(Transition) }), 'The transitions'), ...notFound },
});

const paymentLedgerRoute = defineRoute({
  method: 'get',
  path: '/{id}/ledger',
  'x-switchyard-permission': 'payments:read',
  tags: ['Payments'],
  summary: 'The payment’s ledger transactions, oldest first',
  security: merchantAuth,
  request: { params: paymentId },
  responses: { 200: jsonResponse(z.object({ data: z.array(LedgerTransactionView) }), 'The ledger transactions'), ...notFound },
});

const paymentRiskRoute = defineRoute({
  method: 'get',
  path: '/{id}/risk',
  'x-switchyard-permission': 'payments:read',
  tags: ['Payments', 'Risk'],
  summary: 'The risk decisions about the payment, oldest first',
  security: merchantAuth,
  request: { params: paymentId },
  responses: { 200: jsonResponse(z.object({ data: z.array(RiskDecisionView) }), 'The decisions'), ...notFound },
});

/**
 * `GET /v1/payments`, `/v1/payments/{id}`, `/transitions`, `/ledger`, `/risk` (docs/http-api.md
 * "Payments"). Amounts are integer minor units.
 */
export function paymentRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(listPaymentsRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listPayments(c.var.deps.sql, c.var.merchant.id, q);
    return c.json(
      toPage(rows, q.limit, (p) => paymentView(p) as PaymentJson),
      200,
    );
  });

  const load = async (c: { var: AppEnv['Variables'] }, id: string) => {
    const p = await getPayment(c.var.deps.sql, c.var.merchant.id, id);
    if (!p) throw new NotFoundError('Payment');
    return p;
  };

  app.openapi(getPaymentRoute, async (c) => {
    const p = await load(c, c.req.valid('param').id);
    const [possible, review] = await Promise.all([possibleDuplicateOf(c.var.deps.sql, p.id), latestReviewOf(c.var.deps.sql, p.id)]);
    return c.json(
      {
        ...(paymentView(p) as PaymentJson),
        possibleDuplicateOf: possible,
        review: review ? { id: review.id, status: review.status } : null,
      },
      200,
    );
  });

  app.openapi(paymentRiskRoute, async (c) => {
    const p = await load(c, c.req.valid('param').id);
    const rows = await listPaymentDecisions(c.var.deps.sql, p.id);
    return c.json(
      {
        data: rows.map((d) => ({
          stage: d.stage,
          action: d.action,
          decidedBy: d.decidedBy,
          matched: d.matched,
          evaluated: d.evaluated,
          attributes: d.attributes,
          operationId: d.operationId,
          cause: d.cause,
          decidedAt: d.decidedAt.toISOString(),
        })),
      },
      200,
    );
  });

  app.openapi(transitionsRoute, async (c) => {
    const p = await load(c, c.req.valid('param').id);
    const rows = await listTransitions(c.var.deps.sql, p.id);
    return c.json({ data: rows.map((t) => ({ ...t, at: t.at.toISOString() })) }, 200);
  });

  app.openapi(paymentLedgerRoute, async (c) => {
    const p = await load(c, c.req.valid('param').id);
    const txs = await listPaymentLedger(c.var.deps.sql, p.id);
    return c.json(
      {
        data: txs.map((t) => ({
          id: t.id,
          kind: t.kind,
          cause: t.cause,
          createdAt: t.createdAt.toISOString(),
          entries: t.entries.map((e) => ({ ...e, amount: toJsonAmount(e.amount) })),
        })),
      },
      200,
    );
  });
  return app;
}
