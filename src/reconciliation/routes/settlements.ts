// (node) /v1/reconciliation/settlements: upload a PSP settlement report, read runs and their items.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../core/deps.js';
import { AppError, NotFoundError } from '../../core/errors.js';
import { createRouter, defineRoute, idParam, isoTimestamp, jsonResponse, merchantAuth, pageOf, problems } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { isId } from '../../core/ids.js';
import { loadReport, MAX_REPORT_BYTES } from '../load-report.js';
import { getRun, getSourceForReconciliation, listItems, listRuns } from '../reconciliation-store.js';
import { itemView, RESULTS, runView } from '../reconciliation-view.js';

const TAGS = ['Reconciliation'];

const Amounts = z.object({ currency: z.string(), gross: z.number().int(), fee: z.number().int(), net: z.number().int() });

const RunView = z
  .object({
    id: z.string().openapi({ example: 'rcn_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    sourceId: z.string(),
    status: z.enum(['processing', 'completed', 'failed']),
    format: z.enum(['stripe', 'adyen']),
    payoutId: z.string().nullable().optional().openapi({ description: 'Stripe: the automatic payout all lines belong to, if one.' }),
    batchNumber: z.string().nullable().optional().openapi({ description: 'Adyen: the settlement batch all lines belong to, if one.' }),
    periodStart: isoTimestamp().nullable(),
    periodEnd: isoTimestamp().nullable(),
    linesDone: z.number().int().openapi({ description: 'Report lines matched so far (progress while `processing`).' }),
    counts: z.object({
      lines: z.number().int(),
      matched: z.number().int(),
      amountMismatch: z.number().int(),
      missingInLedger: z.number().int(),
      missingInReport: z.number().int(),
      duplicate: z.number().int(),
      ignored: z.number().int(),
      invalid: z.number().int().openapi({ description: 'Lines that could not be read (each item names its line number).' }),
    }),
    totals: z.array(Amounts).openapi({ description: 'Per currency, over every readable line; signed minor units.' }),
    error: z.string().nullable(),
    createdAt: isoTimestamp(),
    completedAt: isoTimestamp().nullable(),
  })
  .openapi('ReconciliationRun');
type RunJson = z.infer<typeof RunView>;

const ItemView = z
  .object({
    position: z.number().int(),
    lineNumber: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Line in the file (the header is line 1); null for `missingInReport`.' }),
    result: z.enum(RESULTS),
    lineId: z.string().nullable(),
    category: z.string().nullable(),
    pspType: z.string().nullable(),
    pspReference: z.string().nullable(),
    paymentReference: z.string().nullable(),
    paymentId: z.string().nullable(),
    reported: Amounts.nullable(),
    expected: z.object({ currency: z.string().nullable(), gross: z.number().int() }).nullable(),
    detail: z.string().nullable(),
  })
  .openapi('ReconciliationItem');
type ItemJson = z.infer<typeof ItemView>;

const uploadQuery = z.object({
  sourceId: z
    .string()
    .refine((s) => isId('src', s), { message: 'must be a source id (src_ and 32 hex digits).' })
    .openapi({ example: 'src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
});

const uploadRoute = createRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'reconciliation:write',
  tags: TAGS,
  summary: 'Reconcile a settlement report (Stripe itemized report or Adyen Settlement details report, as CSV)',
  security: merchantAuth,
  request: {
    query: uploadQuery,
    body: { content: { 'text/csv': { schema: z.string() } }, description: 'The report as the PSP exports it (UTF-8, ≤ 50 MiB).' },
  },
  responses: {
    202: jsonResponse(z.object({ id: z.string(), status: z.literal('processing') }), 'Loaded; matching runs as a job'),
    200: jsonResponse(RunView, 'The same bytes were reconciled before for this source: that run'),
    ...problems({
      400: ['invalid_request'],
      401: ['unauthorized'],
      404: ['source_not_found'],
      413: ['payload_too_large'],
      415: ['unsupported_media_type'],
      422: ['report_format_unknown', 'report_format_mismatch'],
    }),
  },
});

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'reconciliation:read',
  tags: TAGS,
  summary: 'List reconciliation runs, newest first',
  security: merchantAuth,
  request: { query: pageQuery('rcn') },
  responses: { 200: jsonResponse(pageOf(RunView), 'A page of runs') },
});

const runId = idParam('rcn_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'reconciliation:read',
  tags: TAGS,
  summary: 'Get a reconciliation run with its counts and totals',
  security: merchantAuth,
  request: { params: runId },
  responses: { 200: jsonResponse(RunView, 'The run'), ...problems({ 404: ['not_found'] }) },
});

const itemsRoute = defineRoute({
  method: 'get',
  path: '/{id}/items',
  'x-switchyard-permission': 'reconciliation:read',
  tags: TAGS,
  summary: 'List the items of a run in line order, optionally of one result',
  security: merchantAuth,
  request: {
    params: runId,
    query: z.object({
      result: z.enum(RESULTS).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      after: z.coerce.number().int().min(0).default(0).openapi({ description: 'The last `position` of the previous page.' }),
    }),
  },
  responses: { 200: jsonResponse(pageOf(ItemView), 'A page of items'), ...problems({ 404: ['not_found'] }) },
});

/** Media types a report may be sent as: CSV, or plain text (curl's `--data-binary` with `-H 'content-type: text/plain'`). */
const CSV_TYPES = /^(text\/csv|application\/csv|text\/plain)\s*(;|$)/i;

/**
 * `POST /v1/reconciliation/settlements?sourceId=` (202 `{"id", "status": "processing"}`, or 200 with the earlier run
 * of the same bytes), `GET /v1/reconciliation/settlements` (list), `/{id}` and `/{id}/items?result=`
 * (docs/http-api.md "Reconciliation"). Problems: 404 `source_not_found`, 415 `unsupported_media_type`, 413
 * `payload_too_large`, 422 `report_format_unknown` / `report_format_mismatch`, 400 `invalid_request`.
 */
export function settlementRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(uploadRoute, async (c) => {
    const { sourceId } = c.req.valid('query');
    const deps = c.var.deps;
    const source = await getSourceForReconciliation(deps.sql, c.var.merchant.id, sourceId);
    if (!source) throw new NotFoundError(`Source ${sourceId}`, 'source_not_found');
    const type = c.req.header('content-type') ?? '';
    if (!CSV_TYPES.test(type)) {
      throw new AppError('unsupported_media_type', 415, `Send the report as text/csv (got ${type === '' ? 'no content-type' : type}).`);
    }
    if (c.req.header('content-encoding') && c.req.header('content-encoding') !== 'identity') {
      throw new AppError('unsupported_media_type', 415, 'Content-Encoding is not supported: send the report uncompressed.');
    }
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > MAX_REPORT_BYTES) throw new AppError('payload_too_large', 413, `The report exceeds ${MAX_REPORT_BYTES} bytes.`);
    const outcome = await loadReport(deps, {
      merchantId: c.var.merchant.id,
      sourceId: source.id,
      provider: source.provider,
      body: c.req.raw.body,
    });
    if (outcome.kind === 'existing') return c.json(runView(outcome.run) as RunJson, 200);
    return c.json({ id: outcome.runId, status: 'processing' as const }, 202);
  });
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listRuns(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(
      toPage(rows, q.limit, (r) => runView(r) as RunJson),
      200,
    );
  });
  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const run = await getRun(c.var.deps.sql, c.var.merchant.id, id);
    if (!run) throw new NotFoundError(`Reconciliation ${id}`);
    return c.json(runView(run) as RunJson, 200);
  });
  app.openapi(itemsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const run = await getRun(c.var.deps.sql, c.var.merchant.id, id);
    if (!run) throw new NotFoundError(`Reconciliation ${id}`);
    const rows = await listItems(c.var.deps.sql, id, q.limit, q.after, q.result);
    return c.json(
      toPage(rows, q.limit, (r) => itemView(r) as ItemJson),
      200,
    );
  });
  return app;
}
