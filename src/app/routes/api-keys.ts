// `/v1/api-keys`: a merchant's API keys as objects (README "API keys and permissions").
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../core/auth/api-keys.js';
import { getApiKey, insertApiKey, listApiKeys, revokeApiKey, rollApiKey, type ApiKeyRow } from '../../core/auth/api-key-store.js';
import { fullPermissions, permissionsSchema, RESOURCES, type Permissions } from '../../core/auth/permissions.js';
import type { AppEnv } from '../../core/deps.js';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
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

/** How long a rolled key's old secret keeps working by default, seconds (24 h), and at most (30 days). */
const DEFAULT_ROLL_SECONDS = 24 * 3600;
const MAX_ROLL_SECONDS = 30 * 24 * 3600;

const TAGS = ['API keys'];

const level = z.enum(['none', 'read', 'write']);
const PermissionsView = z
  .object(Object.fromEntries(RESOURCES.map((r) => [r, level])) as Record<(typeof RESOURCES)[number], typeof level>)
  .nullable()
  .openapi('ApiKeyPermissions', { description: 'Each resource `none` | `read` | `write`; null: a full key (`sk_…`).' });

const ApiKeyView = z
  .object({
    id: z.string().openapi({ example: 'key_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d' }),
    name: z.string().nullable(),
    prefix: z.string().openapi({ example: 'rk_AbCd', description: 'The first 7 characters of the key.' }),
    permissions: PermissionsView,
    createdAt: isoTimestamp(),
    lastUsedAt: isoTimestamp().nullable().openapi({ description: 'Updated at most once a minute.' }),
    expiresAt: isoTimestamp().nullable(),
  })
  .openapi('ApiKey');

const CreatedApiKey = ApiKeyView.extend({
  key: z.string().openapi({ description: 'The key itself, shown this once (stored only as a hash).', example: 'rk_…' }),
}).openapi('CreatedApiKey');

const createBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    permissions: permissionsSchema.optional().openapi({
      description: `Per resource (${RESOURCES.join(', ')}): \`none\` | \`read\` | \`write\`; unnamed resources are \`none\`. Absent: a full key (\`sk_…\`).`,
    }),
    expiresAt: z.iso.datetime().optional().openapi({ description: 'When the key stops working (in the future).' }),
  })
  .strict()
  .openapi('CreateApiKey');

const rollBody = z
  .object({
    expiresInSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROLL_SECONDS)
      .optional()
      .openapi({ description: 'How long the old key keeps working, seconds (0 to 30 days; default 86400).' }),
  })
  .strict()
  .openapi('RollApiKey');

const createApiKeyRoute = defineRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'api_keys:write',
  operationId: 'createApiKey',
  tags: TAGS,
  summary: 'Create an API key: `sk_…` (full) or `rk_…` (restricted by `permissions`)',
  security: merchantAuth,
  request: { body: jsonBodyOf(createBody) },
  responses: { 201: jsonResponse(CreatedApiKey, 'The key, shown once') },
});

const listApiKeysRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'api_keys:read',
  operationId: 'listApiKeys',
  tags: TAGS,
  summary: 'List the unrevoked API keys, newest first (never the keys themselves)',
  security: merchantAuth,
  request: { query: pageQuery('key') },
  responses: { 200: jsonResponse(pageOf(ApiKeyView), 'A page of keys') },
});

const revokeApiKeyRoute = defineRoute({
  method: 'delete',
  path: '/{id}',
  'x-switchyard-permission': 'api_keys:write',
  operationId: 'revokeApiKey',
  tags: TAGS,
  summary: 'Revoke an API key: refused from the next request on, in every process',
  security: merchantAuth,
  request: { params: idParam('key_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d') },
  responses: { 200: jsonResponse(z.object({ id: z.string(), revoked: z.literal(true) }), 'Revoked'), ...problems({ 404: ['not_found'] }) },
});

const rollApiKeyRoute = defineRoute({
  method: 'post',
  path: '/{id}/roll',
  'x-switchyard-permission': 'api_keys:write',
  operationId: 'rollApiKey',
  tags: TAGS,
  summary: 'Roll an API key: a new key with the same permissions; the old one works for `expiresInSeconds` more',
  security: merchantAuth,
  request: { params: idParam('key_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d'), body: { ...jsonBodyOf(rollBody), required: false } },
  responses: { 201: jsonResponse(CreatedApiKey, 'The new key, shown once'), ...problems({ 404: ['not_found'] }) },
});

function view(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    permissions: fullPermissions(k.permissions),
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    expiresAt: k.expiresAt?.toISOString() ?? null,
  };
}

const RANK = { none: 0, read: 1, write: 2 } as const;

/** Throws 403 `permission_denied` when a key with `own` would make (or roll into) a key with more access: `target`. */
function refuseEscalation(own: Permissions | null, target: Permissions | null, verb: 'make' | 'roll'): void {
  if (own === null) return;
  const over = RESOURCES.filter((r) => RANK[target === null ? 'write' : (target[r] ?? 'none')] > RANK[own[r] ?? 'none']);
  if (over.length > 0) {
    throw new AppError(
      'permission_denied',
      403,
      `A restricted key cannot ${verb} a key with more access than its own (${over.join(', ')}).`,
    );
  }
}

/** A new key for `permissions`: `rk_…` when restricted, `sk_…` when full (null). */
function newKey(restricted: boolean): string {
  const key = generateApiKey();
  return restricted ? `rk_${key.slice(3)}` : key;
}

/**
 * `POST /v1/api-keys`, `GET /v1/api-keys`, `DELETE /v1/api-keys/{id}`, `POST /v1/api-keys/{id}/roll`. A restricted
 * key cannot make a key with more than it has itself (403 `permission_denied`), so `api_keys:write` is not a way up.
 */
export function apiKeyRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(createApiKeyRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, clock } = c.var.deps;
    const now = clock();
    const expiresAt = body.expiresAt === undefined ? null : new Date(body.expiresAt);
    if (expiresAt !== null && expiresAt <= now) {
      throw new ValidationError([{ path: ['expiresAt'], message: 'must be in the future' }], '`expiresAt` must be in the future.');
    }
    const permissions = body.permissions ?? null;
    refuseEscalation(c.var.apiKey.permissions, permissions, 'make');
    const key = newKey(permissions !== null);
    const row = await insertApiKey(sql, {
      merchantId: c.var.merchant.id,
      name: body.name,
      permissions,
      expiresAt,
      keyHash: await hashApiKey(key),
      prefix: apiKeyPrefix(key),
      now,
    });
    return c.json({ ...view(row), key }, 201);
  });
  app.openapi(listApiKeysRoute, async (c) => {
    const { limit, startingAfter } = c.req.valid('query');
    const rows = await listApiKeys(c.var.deps.sql, c.var.merchant.id, { limit, startingAfter });
    return c.json(toPage(rows, limit, view), 200);
  });
  app.openapi(revokeApiKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql, clock } = c.var.deps;
    if (!(await revokeApiKey(sql, c.var.merchant.id, id, clock()))) throw new NotFoundError('API key');
    return c.json({ id, revoked: true as const }, 200);
  });
  app.openapi(rollApiKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json') ?? {};
    const { sql, clock } = c.var.deps;
    const now = clock();
    const old = await getApiKey(sql, c.var.merchant.id, id);
    if (!old) throw new NotFoundError('API key');
    refuseEscalation(c.var.apiKey.permissions, old.permissions, 'roll');
    const key = newKey(old.permissions !== null);
    const keyHash = await hashApiKey(key);
    const row = await sql.begin((tx) =>
      rollApiKey(tx, {
        merchantId: c.var.merchant.id,
        id,
        keyHash,
        prefix: apiKeyPrefix(key),
        oldExpiresAt: new Date(now.getTime() + (body.expiresInSeconds ?? DEFAULT_ROLL_SECONDS) * 1000),
        now,
      }),
    );
    if (!row) throw new NotFoundError('API key');
    return c.json({ ...view(row), key }, 201);
  });
  return app;
}
