// The signing routes of an endpoint: its secret (read, rotate) and its optional v1a (Ed25519) key.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { NotFoundError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import { defineRoute, jsonResponse, merchantAuth } from '../../core/http/openapi.js';
import { rethrowSecretUnreadable } from '../../core/secrets.js';
import { enableEd25519Signing } from '../endpoints/endpoint-ed25519.js';
import { rotateEndpointSecret } from '../endpoints/endpoint-secrets.js';
import {
  activeSecretEnvelopes,
  disableEd25519Signing,
  getEd25519PublicKey,
  getEndpoint,
  lockEndpoint,
} from '../endpoints/endpoint-store.js';
import { Ed25519View, endpointId, notFound, SecretView, TAGS } from './endpoint-schemas.js';

const getSecretRoute = defineRoute({
  method: 'get',
  path: '/{id}/secret',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'The newest signing secret',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(SecretView, 'The secret that signs now'), ...notFound },
});

const rotateRoute = defineRoute({
  method: 'post',
  path: '/{id}/secret/rotate',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Rotate the signing secret',
  description: 'The previous secret keeps signing beside the new one for 24 h.',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(SecretView, 'The new secret'), ...notFound },
});

const enableEd25519Route = defineRoute({
  method: 'post',
  path: '/{id}/ed25519',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Turn on v1a (Ed25519) signatures',
  description:
    'Deliveries from now on also carry a `v1a,` signature (Standard Webhooks asymmetric) that verifies with the public key answered. Idempotent: when it is already on, the same key is answered; to change the key, turn it off and on again.',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(Ed25519View, 'On, with the public key'), ...notFound },
});

const getEd25519Route = defineRoute({
  method: 'get',
  path: '/{id}/ed25519',
  'x-switchyard-permission': 'endpoints:read',
  tags: TAGS,
  summary: 'Whether v1a (Ed25519) signatures are on, and the public key',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(Ed25519View, 'The v1a signing state'), ...notFound },
});

const disableEd25519Route = defineRoute({
  method: 'delete',
  path: '/{id}/ed25519',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Turn off v1a (Ed25519) signatures',
  description: 'The key pair is dropped; turning it on again makes a new one. Also 204 when it was already off.',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 204: { description: 'Off' }, ...notFound },
});

/**
 * Adds the signing routes of docs/http-api.md "Endpoints" to the `/v1/endpoints` router: `GET /{id}/secret` and
 * `POST /{id}/secret/rotate` → 200 `{"secret"}`; `POST|GET /{id}/ed25519` → 200 `{"enabled", "publicKey"}`;
 * `DELETE /{id}/ed25519` → 204. Another merchant's or a deleted endpoint is 404 `not_found`.
 */
export function addSigningRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getSecretRoute, async (c) => {
    const { sql, secretBox, clock } = c.var.deps;
    const endpoint = await getEndpoint(sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    const [newest] = await activeSecretEnvelopes(sql, endpoint.id, clock());
    if (!newest) throw new NotFoundError('Endpoint secret');
    const secret = await secretBox.decrypt(newest).catch(rethrowSecretUnreadable);
    return c.json({ secret }, 200);
  });

  app.openapi(rotateRoute, async (c) => {
    const { sql, secretBox, clock } = c.var.deps;
    const secret = await sql.begin((tx) =>
      rotateEndpointSecret(tx, secretBox, { merchantId: c.var.merchant.id, endpointId: c.req.valid('param').id, now: clock() }),
    );
    if (secret === undefined) throw new NotFoundError('Endpoint');
    return c.json({ secret }, 200);
  });

  app.openapi(enableEd25519Route, async (c) => {
    const { sql, secretBox } = c.var.deps;
    const publicKey = await sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, c.var.merchant.id, c.req.valid('param').id);
      return endpoint && enableEd25519Signing(tx, secretBox, endpoint.id);
    });
    if (!publicKey) throw new NotFoundError('Endpoint');
    return c.json({ enabled: true, publicKey }, 200);
  });

  app.openapi(getEd25519Route, async (c) => {
    const { sql } = c.var.deps;
    const endpoint = await getEndpoint(sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    const publicKey = await getEd25519PublicKey(sql, endpoint.id);
    return c.json({ enabled: publicKey !== null, publicKey }, 200);
  });

  app.openapi(disableEd25519Route, async (c) => {
    const found = await c.var.deps.sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, c.var.merchant.id, c.req.valid('param').id);
      if (endpoint) await disableEd25519Signing(tx, endpoint.id);
      return endpoint !== undefined;
    });
    if (!found) throw new NotFoundError('Endpoint');
    return c.body(null, 204);
  });
}
