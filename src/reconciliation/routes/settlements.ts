// (node) /v1/reconciliation/settlements: upload a PSP settlement report, read runs and their items.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../core/deps.js';
import { AppError, NotFoundError } from '../../core/errors.js';
import { ReconciliationItemData, ReconciliationRunData } from '../../core/events/event-data.js';
import { createRouter, defineRoute, idParam, jsonResponse, merchantAuth, pageOf, problems } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { isId } from '../../core/ids.js';
import { MAX_REPORT_BYTES, spoolReport } from '../load-report.js';
import { getRun, getSourceForReconciliation, listItems, listRuns } from '../reconciliation-store.js';
import { itemView, RESULTS, runView } from '../reconciliation-view.js';

const TAGS = ['Reconciliation'];

// The shapes the events carry (core/events/event-data.ts), so the API and the webhooks cannot drift apart.
const RunView = z.object(ReconciliationRunData.shape).openapi('ReconciliationRun');

const ItemView = z.object(ReconciliationItemData.shape).openapi('ReconciliationItem');

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
    202: jsonResponse(
      z.object({ id: z.string(), status: z.literal('processing') }),
      'Received (the header checked); reading and matching run as a job',
    ),
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
    const outcome = await spoolReport(deps, {
      merchantId: c.var.merchant.id,
      sourceId: source.id,
      provider: source.provider,
      body: c.req.raw.body,
    });
    if (outcome.kind === 'existing') return c.json(runView(outcome.run), 200);
    return c.json({ id: outcome.runId, status: 'processing' as const }, 202);
  });
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listRuns(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(
      toPage(rows, q.limit, (r) => runView(r)),
      200,
    );
  });
  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const run = await getRun(c.var.deps.sql, c.var.merchant.id, id);
    if (!run) throw new NotFoundError(`Reconciliation ${id}`);
    return c.json(runView(run), 200);
  });
  app.openapi(itemsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const run = await getRun(c.var.deps.sql, c.var.merchant.id, id);
    if (!run) throw new NotFoundError(`Reconciliation ${id}`);
    const rows = await listItems(c.var.deps.sql, id, q.limit, q.after, q.result);
    return c.json(
      toPage(rows, q.limit, (r) => itemView(r)),
      200,
    );
  });
  return app;
}
