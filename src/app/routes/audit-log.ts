// `GET /v1/audit-log` and `GET /admin/audit-log`: the audit trail (README "Audit log").
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { listAuditEntries, type AuditEntry } from '../../core/audit/audit-store.js';
import { requireAdmin } from '../../core/auth/middleware.js';
import type { AppEnv } from '../../core/deps.js';
import { adminAuth, createRouter, defineRoute, isoTimestamp, jsonResponse, merchantAuth, pageOf } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';

const AuditEntryView = z
  .object({
    id: z.string().openapi({ example: 'aud_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d' }),
    merchantId: z.string().nullable(),
    actor: z.object({
      type: z.enum(['api_key', 'admin', 'portal_session', 'anonymous']),
      id: z.string().nullable().openapi({ description: 'The API key id (`key_…`) or portal session id (`pss_…`).' }),
      prefix: z.string().nullable().openapi({ description: 'The API key’s first characters.' }),
    }),
    operation: z.string().openapi({ description: 'The OpenAPI operationId.', example: 'createApiKey' }),
    method: z.string(),
    path: z.string().openapi({ description: 'The route’s path pattern.', example: '/v1/endpoints/{id}' }),
    objectIds: z.array(z.string()),
    requestId: z.string(),
    clientAddress: z.string().nullable(),
    userAgent: z.string().nullable(),
    status: z.number().int(),
    at: isoTimestamp(),
  })
  .openapi('AuditEntry');

const auditQuery = pageQuery('aud').extend({
  objectId: z.string().max(100).optional().openapi({ description: 'Rows that touched this object id.' }),
  operation: z.string().max(200).optional().openapi({ description: 'An operationId, e.g. `createEndpoint`.' }),
  actor: z.string().max(100).optional().openapi({ description: 'An API key id, a portal session id, or `admin`.' }),
  since: z.iso.datetime().optional().openapi({ description: 'Rows at or after this time.' }),
  until: z.iso.datetime().optional().openapi({ description: 'Rows before this time.' }),
});

function view(e: AuditEntry) {
  return { ...e, at: e.at.toISOString() };
}

function listRoute(security: typeof merchantAuth | typeof adminAuth, permission: 'audit_log:read' | 'admin', operationId: string) {
  return defineRoute({
    method: 'get',
    path: '/',
    'x-switchyard-permission': permission,
    operationId,
    tags: ['Audit log'],
    summary: 'Audit rows, newest first, filtered by object, operation, actor and time',
    security,
    request: { query: auditQuery },
    responses: { 200: jsonResponse(pageOf(AuditEntryView), 'A page of audit rows') },
  });
}

function queryOf(q: z.infer<typeof auditQuery>) {
  return {
    objectId: q.objectId,
    operation: q.operation,
    actor: q.actor,
    since: q.since === undefined ? undefined : new Date(q.since),
    until: q.until === undefined ? undefined : new Date(q.until),
    startingAfter: q.startingAfter,
    limit: q.limit,
  };
}

/** `GET /v1/audit-log?objectId=&operation=&actor=&since=&until=&limit=&startingAfter=`: the merchant's own rows. */
export function auditLogRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(listRoute(merchantAuth, 'audit_log:read', 'listAuditLog'), async (c) => {
    const q = c.req.valid('query');
    const rows = await listAuditEntries(c.var.deps.sql, { ...queryOf(q), merchantId: c.var.merchant.id });
    return c.json(toPage(rows, q.limit, view), 200);
  });
  return app;
}

/** `GET /admin/audit-log?…`: every merchant's rows, and those of admin and unauthenticated requests. */
export function adminAuditLogRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.use('*', requireAdmin());
  app.openapi(listRoute(adminAuth, 'admin', 'adminListAuditLog'), async (c) => {
    const q = c.req.valid('query');
    const rows = await listAuditEntries(c.var.deps.sql, queryOf(q));
    return c.json(toPage(rows, q.limit, view), 200);
  });
  return app;
}
