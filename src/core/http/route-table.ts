// Which operation a request is, found before routing: the auth middleware needs its permission, the audit its operationId.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { TrieRouter } from 'hono/router/trie-router';
import { isRoutePermission, PERMISSION_FIELD, type RoutePermission } from '../auth/permissions.js';
import type { AppEnv } from '../deps.js';

/**
 * How a route's audit row is written (route-object field `x-switchyard-audit`): `request` (the default) runs the whole
 * request in one transaction that the row joins; `own` leaves the route's own transactions alone (it calls a PSP
 * between them) and appends the row in one of its own once the answer is known.
 */
export type AuditMode = 'request' | 'own';

/** The route-object field that sets a route's {@link AuditMode}. */
export const AUDIT_FIELD = 'x-switchyard-audit';

/** One operation: its operationId, what it needs, how it is audited, and its OpenAPI path. */
export interface RouteInfo {
  operationId: string;
  method: string;
  path: string;
  permission: RoutePermission | undefined;
  audit: AuditMode;
}

/**
 * The operationId of a route without one: the method and the path's words in camelCase, parameters as `By<Name>`
 * (`POST /v1/endpoints/{id}/secret/rotate` → `postEndpointsByIdSecretRotate`); `/v1` is left out.
 */
export function deriveOperationId(method: string, path: string): string {
  const words = path
    .replace(/^\/v1(?=\/|$)/, '')
    .split('/')
    .filter(Boolean)
    .flatMap((segment) => {
      const param = segment.match(/^[{:]([^}]+)}?$/);
      const text = param ? `by-${param[1]}` : segment;
      return text.split(/[^A-Za-z0-9]+/).filter(Boolean);
    });
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/**
 * The operations of an app, read from its OpenAPI registry once every route is mounted ({@link RouteTable.load}),
 * matched by method and path with Hono's own router. Loading also writes each derived operationId onto its route
 * object, so the document and the audit log name operations alike.
 */
export class RouteTable {
  #router = new TrieRouter<RouteInfo>();

  /** Reads every route of `app`'s registry; call after the last route is mounted and before the first request. */
  load(app: OpenAPIHono<AppEnv>): void {
    for (const def of app.openAPIRegistry.definitions) {
      if (def.type !== 'route') continue;
      const route = def.route as typeof def.route & Record<string, unknown>;
      route.operationId ??= deriveOperationId(route.method, route.path);
      const permission = route[PERMISSION_FIELD];
      const info: RouteInfo = {
        operationId: route.operationId,
        method: route.method.toUpperCase(),
        path: route.path,
        permission: isRoutePermission(permission) ? permission : undefined,
        audit: route[AUDIT_FIELD] === 'own' ? 'own' : 'request',
      };
      this.#router.add(info.method, route.path.replace(/{([^}]+)}/g, ':$1'), info);
    }
  }

  /** Adds an operation that is not in the OpenAPI document (the portal's forms); `path` in Hono's `:param` syntax. */
  add(info: RouteInfo): void {
    this.#router.add(info.method, info.path, info);
  }

  /** The operation `method path` is, with its path parameters; undefined when no route matches. */
  match(method: string, path: string): { info: RouteInfo; params: Record<string, string> } | undefined {
    const [found] = this.#router.match(method.toUpperCase(), path)[0];
    if (!found) return undefined;
    const [info, params] = found as [RouteInfo, Record<string, string>];
    return { info, params };
  }
}
