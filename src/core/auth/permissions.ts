// What an API key may do: one level per resource (Stripe's restricted keys), and what each route needs.
import { z } from 'zod';

/** Every resource of the API a restricted key can be given access to (README "API keys and permissions"). */
export const RESOURCES = [
  'payments',
  'endpoints',
  'events',
  'sources',
  'ledger',
  'reconciliation',
  'risk',
  'portal',
  'api_keys',
  'audit_log',
] as const;

/** One resource of {@link RESOURCES}. */
export type Resource = (typeof RESOURCES)[number];

/** A key's access to one resource: `write` includes `read`. */
export type AccessLevel = 'none' | 'read' | 'write';

/** A restricted key's permissions; a resource left out is `none`. */
export type Permissions = Partial<Record<Resource, AccessLevel>>;

/**
 * What a route needs, declared on its route object as `'x-switchyard-permission'` (and so shown in the OpenAPI
 * document): `<resource>:read` or `<resource>:write`; `any` (every valid key, e.g. `GET /v1/merchant`); `admin`
 * (the admin token, `/admin/*`).
 */
export type RoutePermission = `${Resource}:${'read' | 'write'}` | 'any' | 'admin';

/** The route-object field that declares a route's {@link RoutePermission}. */
export const PERMISSION_FIELD = 'x-switchyard-permission';

const level = z.enum(['none', 'read', 'write']);

/** The `permissions` of `POST /v1/api-keys`: each resource `none` | `read` | `write`; unknown resources are refused. */
export const permissionsSchema = z
  .object(Object.fromEntries(RESOURCES.map((r) => [r, level.optional()])) as Record<Resource, z.ZodOptional<typeof level>>)
  .strict();

const RANK: Record<AccessLevel, number> = { none: 0, read: 1, write: 2 };

/** True when `permission` is a well-formed {@link RoutePermission}. */
export function isRoutePermission(permission: unknown): permission is RoutePermission {
  if (permission === 'any' || permission === 'admin') return true;
  if (typeof permission !== 'string') return false;
  const [resource, need] = permission.split(':');
  return (RESOURCES as readonly string[]).includes(resource ?? '') && (need === 'read' || need === 'write');
}

/**
 * Whether a key with `permissions` (null: a full key) may use a route that needs `needed`. A route that declares
 * nothing (undefined) needs a full key; `admin` is never a merchant key's.
 */
export function allows(permissions: Permissions | null, needed: RoutePermission | undefined): boolean {
  if (needed === 'admin') return false;
  if (permissions === null) return true;
  if (needed === undefined) return false;
  if (needed === 'any') return true;
  const [resource, need] = needed.split(':') as [Resource, 'read' | 'write'];
  return RANK[permissions[resource] ?? 'none'] >= RANK[need];
}

/** Every resource with its level (`none` where unset): what `GET /v1/api-keys` shows; null stays null (a full key). */
export function fullPermissions(permissions: Permissions | null): Record<Resource, AccessLevel> | null {
  if (permissions === null) return null;
  return Object.fromEntries(RESOURCES.map((r) => [r, permissions[r] ?? 'none'])) as Record<Resource, AccessLevel>;
}
