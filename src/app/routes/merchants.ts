import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../core/auth/api-keys.js';
import { requireAdmin } from '../../core/auth/middleware.js';
import { getMerchantWithKey, insertMerchant } from '../../core/merchants/merchant-store.js';
import { UnauthorizedError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { adminAuth, createRouter, defineRoute, isoTimestamp, jsonBodyOf, jsonResponse, merchantAuth } from '../../core/http/openapi.js';

const createMerchantBody = z
  .object({ name: z.string().trim().min(1).max(200) })
  .strict()
  .openapi('CreateMerchant');

const CreatedMerchant = z
  .object({
    id: z.string().openapi({ example: 'mch_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    name: z.string(),
    apiKey: z.string().openapi({ description: 'The merchant’s API key, shown this once (stored only as a hash).' }),
    createdAt: isoTimestamp(),
  })
  .openapi('CreatedMerchant');

const createMerchant = defineRoute({
  method: 'post',
  path: '/merchants',
  'x-switchyard-permission': 'admin',
  tags: ['Admin'],
  summary: 'Create a merchant and its API key',
  security: adminAuth,
  request: { body: jsonBodyOf(createMerchantBody) },
  responses: { 201: jsonResponse(CreatedMerchant, 'The merchant, with its API key (shown once)') },
});

/** `POST /admin/merchants {"name"}` → 201 `{"id", "name", "apiKey", "createdAt"}`; the key is shown once. */
export function merchantRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.use('*', requireAdmin());
  app.openapi(createMerchant, async (c) => {
    const { name } = c.req.valid('json');
    const apiKey = generateApiKey();
    const merchant = await insertMerchant(c.var.deps.sql, {
      name,
      apiKeyHash: await hashApiKey(apiKey),
      apiKeyPrefix: apiKeyPrefix(apiKey),
    });
    return c.json({ id: merchant.id, name: merchant.name, apiKey, createdAt: merchant.createdAt.toISOString() }, 201);
  });
  return app;
}

/** The merchant an API key belongs to, and that key (never the key itself: only its first characters). */
const MerchantView = z
  .object({
    id: z
      .string()
      .openapi({ example: 'mch_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c', description: 'What `switchyard ledger check --merchant` takes.' }),
    name: z.string(),
    createdAt: isoTimestamp(),
    apiKey: z
      .object({
        id: z.string().openapi({ example: 'key_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d' }),
        prefix: z.string().openapi({ example: 'sk_AbCd', description: 'The first 7 characters of the key this request used.' }),
        createdAt: isoTimestamp(),
      })
      .openapi({ description: 'The API key this request authenticated with.' }),
  })
  .openapi('Merchant');

const getCurrentMerchant = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'any',
  tags: ['Merchant'],
  summary: 'The merchant of the API key: its id, name and creation time',
  security: merchantAuth,
  responses: { 200: jsonResponse(MerchantView, 'The merchant and the API key used') },
});

/**
 * `GET /v1/merchant` → 200 `{"id", "name", "createdAt", "apiKey": {"id", "prefix", "createdAt"}}`: the merchant
 * the bearer API key belongs to (mount under `/v1`, behind `requireMerchant`). Throws 401 `unauthorized` when the
 * key was revoked between the middleware's check and this read.
 */
export function currentMerchantRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(getCurrentMerchant, async (c) => {
    const merchant = await getMerchantWithKey(c.var.deps.sql, c.var.merchant.id, c.var.merchant.apiKeyId);
    if (!merchant) throw new UnauthorizedError('The API key is not valid.');
    return c.json(
      {
        id: merchant.id,
        name: merchant.name,
        createdAt: merchant.createdAt.toISOString(),
        apiKey: { ...merchant.apiKey, createdAt: merchant.apiKey.createdAt.toISOString() },
      },
      200,
    );
  });
  return app;
}
