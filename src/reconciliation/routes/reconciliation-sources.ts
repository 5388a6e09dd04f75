// /v1/reconciliation/sources/{id} (a source's reconciliation settings) and /v1/reconciliation/stuck-payments.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../core/deps.js';
import { NotFoundError } from '../../core/errors.js';
import {
  createRouter,
  defineRoute,
  idParam,
  isoTimestamp,
  jsonBodyOf,
  jsonResponse,
  merchantAuth,
  pageOf,
  problems,
} from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import {
  getReconciliationSettings,
  listStuckPayments,
  updateReconciliationSettings,
  type ReconciliationSettingsRow,
  type StuckPaymentRow,
} from '../reconciliation-store.js';

const TAGS = ['Reconciliation'];

const Settings = z
  .object({
    sourceId: z.string(),
    settlementDelaySeconds: z.number().int().openapi({
      description: 'How long after a capture or refund its settlement may take before it is `missingInReport` (default 604800: 7 days).',
    }),
    stuckAfterSeconds: z.number().int().openapi({
      description: 'How long a payment may stay `pending` before it is a stuck payment (the settling time; default 3600).',
    }),
    hasReportCredentials: z.boolean().openapi({ description: 'Whether Adyen report credentials are set (they are never returned).' }),
  })
  .openapi('ReconciliationSettings');

const settingsBody = z
  .object({
    settlementDelaySeconds: z.number().int().min(0).max(31_536_000).optional(),
    stuckAfterSeconds: z.number().int().min(60).max(2_592_000).optional(),
    reportCredentials: z
      .union([
        z.object({ username: z.string().min(1).max(255), password: z.string().min(1).max(1024) }).strict(),
        z.object({ apiKey: z.string().min(1).max(1024) }).strict(),
      ])
      .nullable()
      .optional()
      .openapi({
        description:
          'Adyen: the report user (`report@Company.…`) that downloads settlement details reports on REPORT_AVAILABLE, as ' +
          '`{username, password}` or `{apiKey}`; encrypted at rest, never returned; null removes them.',
      }),
  })
  .strict()
  .openapi('ReconciliationSettingsChange');

const sourceId = idParam('src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');

const getSettingsRoute = defineRoute({
  method: 'get',
  path: '/sources/{id}',
  tags: TAGS,
  summary: "Get a source's reconciliation settings",
  security: merchantAuth,
  'x-switchyard-permission': 'reconciliation:read',
  request: { params: sourceId },
  responses: { 200: jsonResponse(Settings, 'The settings'), ...problems({ 404: ['not_found'] }) },
});

const patchSettingsRoute = defineRoute({
  method: 'patch',
  path: '/sources/{id}',
  tags: TAGS,
  summary: "Change a source's reconciliation settings (settlement delay, settling time, Adyen report credentials)",
  security: merchantAuth,
  'x-switchyard-permission': 'reconciliation:write',
  request: { params: sourceId, body: jsonBodyOf(settingsBody) },
  responses: {
    200: jsonResponse(Settings, 'The settings after the change'),
    ...problems({ 400: ['invalid_request'], 404: ['not_found'] }),
  },
});

const StuckPayment = z
  .object({
    paymentId: z.string(),
    sourceId: z.string(),
    pspReference: z.string(),
    status: z.string().openapi({ description: "The payment's status now." }),
    amount: z.number().int(),
    currency: z.string(),
    pendingSince: isoTimestamp(),
    detectedAt: isoTimestamp(),
    checkedAt: isoTimestamp().nullable().openapi({ description: 'When the PSP was last asked (Stripe with an apiKey); null: never.' }),
    pspStatus: z
      .string()
      .nullable()
      .openapi({ description: 'What the PSP said: `pending`, an event kind applied (`captured`, `failed`…), `unknown`, `rejected`.' }),
    detail: z.string(),
    resolvedAt: isoTimestamp().nullable(),
    resolvedStatus: z.string().nullable().openapi({ description: 'The status the payment left `pending` for.' }),
  })
  .openapi('StuckPayment');

const listStuckRoute = defineRoute({
  method: 'get',
  path: '/stuck-payments',
  tags: TAGS,
  summary: 'List payments left pending longer than their source’s settling time',
  security: merchantAuth,
  'x-switchyard-permission': 'reconciliation:read',
  request: { query: pageQuery('pay').extend({ state: z.enum(['open', 'resolved']).optional() }) },
  responses: { 200: jsonResponse(pageOf(StuckPayment), 'A page of stuck payments, by payment id descending') },
});

const settingsView = (s: ReconciliationSettingsRow): z.infer<typeof Settings> => ({
  sourceId: s.sourceId,
  settlementDelaySeconds: s.settlementDelaySeconds,
  stuckAfterSeconds: s.stuckAfterSeconds,
  hasReportCredentials: s.hasReportCredentials,
});

/** A stuck payment as the API shows it (amounts in minor units). */
export function stuckPaymentView(r: StuckPaymentRow): z.infer<typeof StuckPayment> {
  return {
    paymentId: r.payment_id,
    sourceId: r.source_id,
    pspReference: r.psp_reference,
    status: r.status,
    amount: Number(r.amount),
    currency: r.currency,
    pendingSince: r.pending_since.toISOString(),
    detectedAt: r.detected_at.toISOString(),
    checkedAt: r.checked_at?.toISOString() ?? null,
    pspStatus: r.psp_status,
    detail: r.detail,
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    resolvedStatus: r.resolved_status,
  };
}

/**
 * `GET`/`PATCH /v1/reconciliation/sources/{id}` (settlement delay, settling time, Adyen report credentials sealed by
 * the SecretBox) and `GET /v1/reconciliation/stuck-payments?state=` (docs/http-api.md "Reconciliation"). Another
 * merchant's source is 404.
 */
export function reconciliationSourceRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(getSettingsRoute, async (c) => {
    const s = await getReconciliationSettings(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!s) throw new NotFoundError('Source');
    return c.json(settingsView(s), 200);
  });
  app.openapi(patchSettingsRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, secretBox } = c.var.deps;
    const sealed =
      body.reportCredentials === undefined || body.reportCredentials === null
        ? body.reportCredentials
        : await secretBox.encrypt(JSON.stringify(body.reportCredentials));
    const s = await updateReconciliationSettings(sql, c.var.merchant.id, c.req.valid('param').id, {
      ...(body.settlementDelaySeconds !== undefined ? { settlementDelaySeconds: body.settlementDelaySeconds } : {}),
      ...(body.stuckAfterSeconds !== undefined ? { stuckAfterSeconds: body.stuckAfterSeconds } : {}),
      ...(sealed !== undefined ? { reportCredentials: sealed } : {}),
    });
    if (!s) throw new NotFoundError('Source');
    return c.json(settingsView(s), 200);
  });
  app.openapi(listStuckRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listStuckPayments(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter, q.state);
    return c.json(toPage(rows, q.limit, stuckPaymentView), 200);
  });
  return app;
}
