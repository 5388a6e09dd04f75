import type { MiddlewareHandler } from 'hono';
import { UnauthorizedError } from '../errors.js';
import type { AppEnv } from '../deps.js';
import { findMerchantByKeyHash } from '../merchants/merchant-store.js';
import { hashApiKey, timingSafeEqualStrings } from './api-keys.js';

function bearer(header: string | undefined): string | undefined {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

/** `/v1/*`: `Authorization: Bearer <apiKey>` → `c.var.merchant`; else 401 `unauthorized` (docs/http-api.md "Authentication"). */
export function requireMerchant(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = bearer(c.req.header('authorization'));
    if (!key) throw new UnauthorizedError('Send your API key as `Authorization: Bearer sk_…`.');
    const merchant = await findMerchantByKeyHash(c.var.deps.sql, await hashApiKey(key));
    if (!merchant) throw new UnauthorizedError('The API key is not valid.');
    c.set('merchant', merchant);
    await next();
  };
}

/** `/admin/*`: `Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>`, compared in constant time. */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    if (!token || !(await timingSafeEqualStrings(token, c.var.deps.adminToken))) {
      throw new UnauthorizedError('Send the admin token as `Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>`.');
    }
    await next();
  };
}
