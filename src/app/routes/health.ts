import { Hono } from 'hono';
import type { AppEnv } from '../../core/deps.js';
import { newestAppliedMigration } from '../db/readiness-store.js';

/**
 * `GET /healthz` (process up) and `GET /readyz` (database answers and has applied
 * `expectedMigration`, else 503), per docs/http-api.md "Operators".
 */
export function healthRoutes(expectedMigration?: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      const newest = await newestAppliedMigration(c.var.deps.sql);
      const migrated = expectedMigration === undefined || newest === expectedMigration;
      return c.json({ status: migrated ? 'ready' : 'migrating' }, migrated ? 200 : 503);
    } catch {
      return c.json({ status: 'database_unavailable' }, 503);
    }
  });
  return app;
}
