// (node) The audit trail of every mutating request (README "Audit log"): one gw.audit_log row each, written in the
// request's own transaction when it commits, else in a transaction of its own.
import type postgres from 'postgres';
import type { Context, MiddlewareHandler } from 'hono';
import { insertAuditEntry } from '../core/audit/audit-store.js';
import type { Sql } from '../core/db/client.js';
import type { AppEnv } from '../core/deps.js';
import type { RouteTable } from '../core/http/route-table.js';
import { clientAddress } from './portal/session.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A prefixed object id (`ep_` + 32 hex digits): what the audit row keeps of path parameters and created objects. */
const OBJECT_ID = /^[a-z]{2,4}_[0-9a-f]{32}$/;

/** Thrown out of the request's transaction to roll it back when the request failed; never escapes this module. */
const ROLLBACK = Symbol('rollback');

/**
 * `tx` as a pool: `begin(cb)` becomes a savepoint, so a route's own transactions nest inside the request's and its
 * statements join it; everything else is the transaction handle's.
 */
function scopedSql(tx: postgres.TransactionSql): Sql {
  return new Proxy(tx, {
    get(target, prop, receiver) {
      if (prop === 'begin') {
        return (optionsOrCb: unknown, maybeCb?: unknown) =>
          target.savepoint((typeof optionsOrCb === 'function' ? optionsOrCb : maybeCb) as (sql: postgres.TransactionSql) => unknown);
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as unknown as Sql;
}

/** The ids a request touched: its id-shaped path parameters, and the `id` of the object a 2xx JSON answer returns. */
async function objectIdsOf(c: Context<AppEnv>, params: Record<string, string>): Promise<string[]> {
  const ids = Object.values(params).filter((v) => OBJECT_ID.test(v));
  if (c.res.status < 300 && (c.res.headers.get('content-type') ?? '').startsWith('application/json')) {
    const body = (await c.res
      .clone()
      .json()
      .catch(() => undefined)) as { id?: unknown } | undefined;
    if (typeof body?.id === 'string' && OBJECT_ID.test(body.id) && !ids.includes(body.id)) ids.push(body.id);
  }
  return ids;
}

/**
 * Audits every mutating request (POST, PUT, PATCH, DELETE) that matches an operation of `routes`. For an operation in
 * the default `request` mode the whole request, its credential check included, runs in one transaction (on `/v1` the
 * key itself was read just before, with the rate limit's take, on a pooled connection: `apiRateLimit`): the route's
 * `deps.sql` is that transaction (its own `begin`s become savepoints) and the audit row is inserted in it just before
 * COMMIT, so the change and its row commit or vanish together. A request that failed (its handler threw: 401, 403,
 * 404, 409, 422, …) is rolled back and its row is written in a transaction of its own. Routes declared
 * `x-switchyard-audit: own` (those that call a PSP between their own commits) keep their transactions and get their
 * row once the answer is known. The row names the operationId, the route's path pattern (never the request's path:
 * a portal link carries its token there), id-shaped object ids, the request id, client address, user agent and
 * status: never a body, a header value other than the user agent, or a query string.
 */
export function auditTrail(routes: RouteTable): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!MUTATING.has(c.req.method)) return next();
    const route = routes.match(c.req.method, c.req.path);
    if (!route) return next();
    const deps = c.var.deps;
    const record = async (sql: Sql | postgres.TransactionSql, status: number) => {
      const actor = c.get('auditActor') ?? { type: 'anonymous' as const, id: null, prefix: null, merchantId: null };
      await insertAuditEntry(sql, {
        merchantId: actor.merchantId,
        actor: { type: actor.type, id: actor.id, prefix: actor.prefix },
        operation: route.info.operationId,
        method: c.req.method,
        path: route.info.path,
        objectIds: await objectIdsOf(c, route.params),
        requestId: c.var.requestId,
        clientAddress: clientAddress(c).slice(0, 100),
        userAgent: c.req.header('user-agent')?.slice(0, 300) ?? null,
        status,
        at: deps.clock(),
      });
    };
    if (route.info.audit === 'own') {
      await next();
      await record(deps.sql, c.res.status);
      return;
    }
    try {
      await deps.sql.begin(async (tx) => {
        c.set('deps', { ...deps, sql: scopedSql(tx) });
        await next();
        if (c.error) throw ROLLBACK;
        await record(tx, c.res.status);
      });
    } catch (error) {
      if (error !== ROLLBACK) {
        // COMMIT itself failed (a deferred constraint, a lost connection): the change is gone, and so is the answer.
        c.set('deps', deps);
        await record(deps.sql, 500).catch(() => {});
        throw error;
      }
      await record(deps.sql, c.res.status);
    } finally {
      c.set('deps', deps);
    }
  };
}
