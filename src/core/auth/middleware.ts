import type { MiddlewareHandler } from 'hono';
import { AppError, UnauthorizedError } from '../errors.js';
import type { AppEnv } from '../deps.js';
import type { RouteTable } from '../http/route-table.js';
import { timingSafeEqualStrings } from './api-keys.js';
import { hashApiKey } from './api-keys.js';
import { findApiKeyByHash, touchApiKey } from './api-key-store.js';
import { allows } from './permissions.js';

function bearer(header: string | undefined): string | undefined {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

/**
 * `/v1/*`: `Authorization: Bearer <apiKey>` → `c.var.merchant`, `c.var.apiKey`, `c.var.auditActor`. A missing,
 * unknown or revoked key is 401 `unauthorized`, an expired one 401 `api_key_expired`; a key without the permission
 * the matched route declares (see {@link RouteTable}) is 403 `permission_denied` naming it. Keys are read from the
 * database on every request (by `apiRateLimit`'s statement when it ran, else here), so a revoked key stops at once in
 * every process; `last_used_at` is written at most
 * once a minute per key (README "API keys and permissions"). Without `routes` (a test mounting one router) no
 * permission is checked.
 */
export function requireMerchant(routes?: RouteTable): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    if (!token) throw new UnauthorizedError('Send your API key as `Authorization: Bearer sk_…` (or `rk_…`).');
    const { sql, clock } = c.var.deps;
    const keyHash = token.length <= 200 ? await hashApiKey(token) : undefined;
    // The rate limit read the key in its own statement (apiRateLimit); read it here only when it could not.
    const looked = c.get('apiKeyLookup');
    const key = keyHash === undefined ? undefined : looked?.keyHash === keyHash ? looked.key : await findApiKeyByHash(sql, keyHash);
    if (!key || key.revokedAt !== null) throw new UnauthorizedError('The API key is not valid.');
    c.set('auditActor', { type: 'api_key', id: key.id, prefix: key.prefix, merchantId: key.merchantId });
    c.set('merchant', { id: key.merchantId, name: key.merchantName, apiKeyId: key.id });
    const now = clock();
    if (key.expiresAt !== null && key.expiresAt <= now) {
      throw new AppError(
        'api_key_expired',
        401,
        `The API key ${key.prefix}… expired at ${key.expiresAt.toISOString()}. Use the key it was rolled to.`,
      );
    }
    c.set('apiKey', { id: key.id, prefix: key.prefix, permissions: key.permissions });
    // On the request's own connection (its transaction, for a change): a second pooled connection per request could
    // starve the pool; a concurrent request of the same key waits for this row at most once a minute.
    if (key.lastUsedAt === null || now.getTime() - key.lastUsedAt.getTime() >= 60_000) await touchApiKey(sql, key.id, now);
    const route = routes?.match(c.req.method, c.req.path);
    if (route && !allows(key.permissions, route.info.permission)) {
      const needed = route.info.permission ?? 'a full (sk_) key';
      throw new AppError('permission_denied', 403, `This API key lacks the permission this operation needs: ${needed}.`);
    }
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
    c.set('auditActor', { type: 'admin', id: null, prefix: null, merchantId: null });
    await next();
  };
}
