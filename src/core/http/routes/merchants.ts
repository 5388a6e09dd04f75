import { Hono } from 'hono';
import { z } from 'zod';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../auth/api-keys.js';
import { requireAdmin } from '../../auth/middleware.js';
import { insertMerchant } from '../../merchants/merchant-store.js';
import type { AppEnv } from '../env.js';
import { jsonBody } from '../validate.js';

const createMerchantBody = z.object({ name: z.string().trim().min(1).max(200) }).strict();

/** `POST /admin/merchants {"name"}` → 201 `{"id", "name", "apiKey", "createdAt"}`; the key is shown once. */
export function merchantRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requireAdmin());
  app.post('/merchants', async (c) => {
    const { name } = await jsonBody(c, createMerchantBody);
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
