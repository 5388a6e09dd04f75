import { describe, expect, it } from 'vitest';
import { deriveOperationId } from '../http/route-table.js';
import { allows, fullPermissions, isRoutePermission, permissionsSchema } from './permissions.js';

describe('allows', () => {
  it('lets a full key (null) through everything but admin routes', () => {
    expect(allows(null, 'payments:write')).toBe(true);
    expect(allows(null, undefined)).toBe(true);
    expect(allows(null, 'admin')).toBe(false);
  });

  it('ranks none < read < write per resource, and treats an unnamed resource as none', () => {
    expect(allows({ payments: 'read' }, 'payments:read')).toBe(true);
    expect(allows({ payments: 'read' }, 'payments:write')).toBe(false);
    expect(allows({ payments: 'write' }, 'payments:read')).toBe(true);
    expect(allows({ payments: 'none' }, 'payments:read')).toBe(false);
    expect(allows({ payments: 'write' }, 'endpoints:read')).toBe(false);
  });

  it('gives a restricted key `any` routes, and refuses it a route that declares nothing', () => {
    expect(allows({}, 'any')).toBe(true);
    expect(allows({ payments: 'write' }, undefined)).toBe(false);
  });
});

describe('permissions', () => {
  it('parses known resources and levels only', () => {
    expect(permissionsSchema.safeParse({ payments: 'read', api_keys: 'write' }).success).toBe(true);
    expect(permissionsSchema.safeParse({ widgets: 'read' }).success).toBe(false);
    expect(permissionsSchema.safeParse({ payments: 'admin' }).success).toBe(false);
  });

  it('shows every resource, unnamed ones as none; a full key stays null', () => {
    expect(fullPermissions({ ledger: 'read' })).toMatchObject({ ledger: 'read', payments: 'none', audit_log: 'none' });
    expect(fullPermissions(null)).toBeNull();
  });

  it('recognises declared route permissions', () => {
    expect(isRoutePermission('risk:write')).toBe(true);
    expect(isRoutePermission('any')).toBe(true);
    expect(isRoutePermission('risk:delete')).toBe(false);
    expect(isRoutePermission('widgets:read')).toBe(false);
    expect(isRoutePermission(undefined)).toBe(false);
  });
});

describe('deriveOperationId', () => {
  it('names an operation by method and path words, parameters as By<Name>, without /v1', () => {
    expect(deriveOperationId('post', '/v1/endpoints/{id}/secret/rotate')).toBe('postEndpointsByIdSecretRotate');
    expect(deriveOperationId('DELETE', '/v1/risk/lists/:id/items/:value')).toBe('deleteRiskListsByIdItemsByValue');
    expect(deriveOperationId('post', '/portal/endpoints/:id/test')).toBe('postPortalEndpointsByIdTest');
    expect(deriveOperationId('post', '/admin/merchants')).toBe('postAdminMerchants');
  });
});
