// 404 or 405 for a request no route answered (Node and Workers alike).
import type { Context } from 'hono';
import { problemBody, problemResponse } from './problem.js';

/** What {@link allowedMethods} reads of an app: its routes (Hono's `app.routes`). */
interface RouteTable {
  routes: readonly { method: string; path: string }[];
}

// Each app's routes as (method, path pattern), compiled once on first use.
const tables = new WeakMap<object, { method: string; pattern: RegExp }[]>();

/** Methods `app` routes at `path` (GET implies HEAD; not middleware), sorted; built on first call, so call it after all mounts. */
function allowedMethods(app: RouteTable, path: string): string[] {
  let table = tables.get(app);
  if (!table) {
    table = app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, pattern: routePattern(r.path) }));
    tables.set(app, table);
  }
  const methods = new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/** notFound handler: 405 `method_not_allowed` + `Allow` if the path exists for other methods (RFC 9110 §15.5.6), else 404. */
export function notFoundOrNotAllowed(app: RouteTable): (c: Context) => Response {
  return (c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length === 0) return problemResponse(problemBody('not_found', 404, 'No such route.'));
    return problemResponse(problemBody('method_not_allowed', 405, `${c.req.method} is not allowed here; allowed: ${allowed.join(', ')}.`), {
      allow: allowed.join(', '),
    });
  };
}

/** A Hono path (`/v1/payments/:id`, `/docs/*`) as an anchored RegExp. */
function routePattern(path: string): RegExp {
  const parts = path.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}
