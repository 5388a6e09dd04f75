import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../core/auth/api-keys.js';
import { requireAdmin } from '../../core/auth/middleware.js';
import { insertMerchant } from '../../core/merchants/merchant-store.js';
import type { AppEnv } from '../../core/deps.js';
import { adminAuth, createRouter, defineRoute, isoTimestamp, jsonBodyOf, jsonResponse } from '../../core/http/openapi.js';

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
