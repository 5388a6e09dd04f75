import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { AppError, NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import type { ExpressionEnvironment } from '../../core/expressions/cel.js';
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
import { createRiskEnvironment } from '../../core/risk/attributes.js';
import { deleteRule, getRule, insertRule, listRules, updateRule, type RiskRule } from '../../core/risk/risk-store.js';

const TAGS = ['Risk'];

const RiskRuleView = z
  .object({
    id: z.string().openapi({ example: 'rul_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    name: z.string(),
    action: z.enum(['allow', 'review', 'block']),
    expression: z.string().openapi({ example: 'amount > 500000 && card.country != "US"' }),
    enabled: z.boolean(),
    priority: z.number().int(),
    version: z.number().int().openapi({ description: 'Moves by one on every change; decisions name the version they ran' }),
    builtIn: z.enum(['duplicate_payment', 'block_lists']).nullable(),
    createdAt: isoTimestamp(),
    updatedAt: isoTimestamp(),
  })
  .openapi('RiskRule');

const ruleFields = {
  name: z.string().trim().min(1).max(200),
  action: z.enum(['allow', 'review', 'block']),
  expression: z
    .string()
    .min(1)
    .max(2000)
    .openapi({ description: 'A CEL expression over the attributes of README "Risk rules"; must yield bool' }),
  enabled: z.boolean(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).openapi({ description: 'Lower runs first within an action (default 0)' }),
};
const createRuleBody = z.strictObject({ ...ruleFields, enabled: ruleFields.enabled.optional(), priority: ruleFields.priority.optional() });
const patchRuleBody = z
  .strictObject({
    name: ruleFields.name.optional(),
    action: ruleFields.action.optional(),
    expression: ruleFields.expression.optional(),
    enabled: ruleFields.enabled.optional(),
    priority: ruleFields.priority.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'name at least one field to change' });

const ruleId = idParam('rul_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');
const notFound = problems({ 404: ['not_found'] });

const createRoute = defineRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'risk:write',
  tags: TAGS,
  summary: 'Create a risk rule',
  security: merchantAuth,
  request: { body: jsonBodyOf(createRuleBody) },
  responses: { 201: jsonResponse(RiskRuleView, 'The rule'), ...problems({ 400: ['invalid_request', 'invalid_rule'] }) },
});
const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'List risk rules, newest first',
  security: merchantAuth,
  request: { query: pageQuery('rul') },
  responses: { 200: jsonResponse(pageOf(RiskRuleView), 'A page of rules') },
});
const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'Get a risk rule',
  security: merchantAuth,
  request: { params: ruleId },
  responses: { 200: jsonResponse(RiskRuleView, 'The rule'), ...notFound },
});
const patchRoute = defineRoute({
  method: 'patch',
  path: '/{id}',
  'x-switchyard-permission': 'risk:write',
  tags: TAGS,
  summary: 'Change a risk rule (a new version)',
  security: merchantAuth,
  request: { params: ruleId, body: jsonBodyOf(patchRuleBody) },
  responses: { 200: jsonResponse(RiskRuleView, 'The rule'), ...problems({ 400: ['invalid_request', 'invalid_rule'], 404: ['not_found'] }) },
});
const deleteRoute = defineRoute({
  method: 'delete',
  path: '/{id}',
  'x-switchyard-permission': 'risk:write',
  tags: TAGS,
  summary: 'Delete a risk rule (kept for the decisions that name it)',
  security: merchantAuth,
  request: { params: ruleId },
  responses: { 204: { description: 'Deleted' }, ...notFound },
});

const ruleView = (r: RiskRule): z.infer<typeof RiskRuleView> => ({
  id: r.id,
  name: r.name,
  action: r.action,
  expression: r.expression,
  enabled: r.enabled,
  priority: r.priority,
  version: r.version,
  builtIn: r.builtIn === 'duplicate_payment' || r.builtIn === 'block_lists' ? r.builtIn : null,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** Throws 400 `invalid_rule` naming the position (0-based character offset) and the reason when `expression` does not compile. */
function checkExpression(env: ExpressionEnvironment, expression: string): void {
  const r = env.compile(expression);
  if (r.ok) return;
  const { position, reason } = r.error;
  throw new AppError('invalid_rule', 400, `The expression is invalid at position ${position}: ${reason}.`, {
    errors: [{ path: ['expression', position], message: reason }],
  });
}

/**
 * The risk-rule routes of docs/http-api.md "Risk", mounted at `/v1/risk/rules`: `POST /` → 201; `GET /` (paged);
 * `GET /{id}`; `PATCH /{id}` → 200, a new version; `DELETE /{id}` → 204 (the rule stays readable in decisions). An
 * expression that does not compile (syntax, unknown attribute, type, forbidden name) is 400 `invalid_rule`; another
 * merchant's or a deleted rule is 404 `not_found`.
 */
export function riskRuleRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  // the checking environment; the processing path compiles with the deps' cache (src/core/risk/assess.ts)
  const env = createRiskEnvironment();

  app.openapi(createRoute, async (c) => {
    const body = c.req.valid('json');
    checkExpression(env, body.expression);
    const rule = await c.var.deps.sql.begin((tx) =>
      insertRule(tx, {
        merchantId: c.var.merchant.id,
        name: body.name,
        action: body.action,
        expression: body.expression,
        enabled: body.enabled ?? true,
        priority: body.priority ?? 0,
        now: c.var.deps.clock(),
      }),
    );
    return c.json(ruleView(rule), 201);
  });

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    return c.json(toPage(await listRules(c.var.deps.sql, c.var.merchant.id, q), q.limit, ruleView), 200);
  });

  app.openapi(getRoute, async (c) => {
    const rule = await getRule(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!rule) throw new NotFoundError('Risk rule');
    return c.json(ruleView(rule), 200);
  });

  app.openapi(patchRoute, async (c) => {
    const body = c.req.valid('json');
    if (body.expression !== undefined) checkExpression(env, body.expression);
    const rule = await c.var.deps.sql.begin(async (tx) => {
      const before = await getRule(tx, c.var.merchant.id, c.req.valid('param').id, true);
      if (!before) return undefined;
      return updateRule(tx, before, {
        name: body.name ?? before.name,
        action: body.action ?? before.action,
        expression: body.expression ?? before.expression,
        enabled: body.enabled ?? before.enabled,
        priority: body.priority ?? before.priority,
        now: c.var.deps.clock(),
      });
    });
    if (!rule) throw new NotFoundError('Risk rule');
    return c.json(ruleView(rule), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const deleted = await c.var.deps.sql.begin(async (tx) => {
      const rule = await getRule(tx, c.var.merchant.id, c.req.valid('param').id, true);
      if (rule) await deleteRule(tx, rule, c.var.deps.clock());
      return rule !== undefined;
    });
    if (!deleted) throw new NotFoundError('Risk rule');
    return c.body(null, 204);
  });
  return app;
}
