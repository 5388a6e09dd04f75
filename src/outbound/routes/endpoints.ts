import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Config } from '../../core/config.js';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import {
  createRouter,
  defineRoute,
  jsonBodyOf,
  jsonResponse,
  merchantAuth,
  pageOf,
  problems,
  urlWarning,
  warnings,
} from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import {
  deleteEndpoint,
  getEndpoint,
  insertEndpoint,
  listEndpoints,
  lockEndpoint,
  resetEndpointHealth,
  updateEndpoint,
} from '../endpoints/endpoint-store.js';
import { sealAuth, sealHeaders, type AuthInput, type HeaderInput } from '../endpoints/receiver-options.js';
import { generateEndpointSecret } from '../sign.js';
import { checkEndpointUrl } from '../ssrf.js';
import { addFilterRoutes, checkedFilter } from './endpoint-filter.js';
import { addOperationRoutes } from './endpoint-operations.js';
import {
  CreatedEndpoint,
  createEndpointBody,
  EndpointView,
  endpointId,
  endpointView,
  notFound,
  patchEndpointBody,
  TAGS,
} from './endpoint-schemas.js';
import { addSigningRoutes } from './endpoint-signing.js';
import { addStatsRoutes } from './endpoint-stats.js';

const createEndpointRoute = defineRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Create an endpoint',
  security: merchantAuth,
  request: { body: jsonBodyOf(createEndpointBody) },
  responses: {
    201: jsonResponse(CreatedEndpoint.extend({ warnings }), 'The endpoint, with its signing secret (and `warnings`, if any)'),
    ...problems({ 400: ['invalid_request', 'url_not_allowed', 'invalid_filter'] }),
  },
});

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'endpoints:read',
  tags: TAGS,
  summary: 'List endpoints, newest first',
  security: merchantAuth,
  request: { query: pageQuery('ep') },
  responses: { 200: jsonResponse(pageOf(EndpointView), 'A page of endpoints') },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'endpoints:read',
  tags: TAGS,
  summary: 'Get an endpoint',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 200: jsonResponse(EndpointView, 'The endpoint'), ...notFound },
});

const patchRoute = defineRoute({
  method: 'patch',
  path: '/{id}',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Update an endpoint',
  description: 'Re-enabling a disabled endpoint also clears its failure state.',
  security: merchantAuth,
  request: { params: endpointId, body: jsonBodyOf(patchEndpointBody) },
  responses: {
    200: jsonResponse(EndpointView.extend({ warnings }), 'The endpoint (and `warnings`, if any)'),
    ...problems({ 400: ['invalid_request', 'url_not_allowed', 'invalid_filter'], 404: ['not_found'] }),
  },
});

const deleteRoute = defineRoute({
  method: 'delete',
  path: '/{id}',
  'x-switchyard-permission': 'endpoints:write',
  tags: TAGS,
  summary: 'Delete an endpoint',
  security: merchantAuth,
  request: { params: endpointId },
  responses: { 204: { description: 'Deleted' }, ...notFound },
});

/**
 * The URL as it will be stored, after the SSRF check, with the check's warning (a host that does not resolve now);
 * throws 400 `url_not_allowed` when it is refused (https is required when NODE_ENV=production).
 */
export async function allowedUrl(url: string, config: Config, what = 'endpoint URL'): Promise<{ url: string; warning?: string }> {
  const requireHttps = config.NODE_ENV === 'production' && !config.SWITCHYARD_ALLOW_PRIVATE_URLS;
  const checked = await checkEndpointUrl(url, { allowPrivate: config.SWITCHYARD_ALLOW_PRIVATE_URLS, requireHttps });
  if (!checked.ok) {
    const why = requireHttps && checked.error === 'URL must use https' ? `${checked.error} (NODE_ENV=production)` : checked.error;
    throw new AppError('url_not_allowed', 400, `The ${what} is not allowed: ${why}.`);
  }
  const { url: parsed, warning } = checked.value;
  return { url: parsed.toString(), ...(warning === undefined ? {} : { warning }) };
}

/** 400 `invalid_request` when custom headers carry `authorization` while the endpoint authenticates with `auth`. */
function refuseAuthorizationClash(headers: readonly { name: string }[], auth: unknown): void {
  const i = headers.findIndex((h) => h.name.toLowerCase() === 'authorization');
  if (i >= 0 && auth) {
    const message = 'header "authorization" cannot be sent when the endpoint has `auth`, which sets it';
    throw new ValidationError([{ path: ['headers', i, 'name'], message }], `The request failed validation: ${message}.`);
  }
}

/** `auth` with its token URL through the SSRF check (400 `url_not_allowed` naming the token URL). */
async function checkedAuth(auth: AuthInput, config: Config): Promise<AuthInput> {
  if (auth.type !== 'oauth2_client_credentials') return auth;
  return { ...auth, tokenUrl: (await allowedUrl(auth.tokenUrl, config, 'OAuth2 token URL')).url };
}

/**
 * The endpoint routes of docs/http-api.md "Endpoints", mounted at `/v1/endpoints`, with the signing and operations
 * routes: `POST /` → 201 with its `secret`; `GET /` (paged); `GET /{id}`; `PATCH /{id}` → 200 (re-enabling also
 * clears the failure state); `DELETE /{id}` → 204. Another merchant's or a deleted endpoint is 404 `not_found`;
 * a bad body 400 `invalid_request`; a `filter` that does not compile 400 `invalid_filter`; a URL refused by the SSRF check (https required in production) 400
 * `url_not_allowed`; a URL whose host does not resolve is saved, with `warnings: [{code: "url_unresolvable"}]`.
 */
export function endpointRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();

  app.openapi(createEndpointRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, secretBox, config } = c.var.deps;
    const filter = checkedFilter(body.filter ?? null);
    const { url, warning } = await allowedUrl(body.url, config);
    refuseAuthorizationClash(body.headers ?? [], body.auth);
    const auth = body.auth ? await sealAuth(secretBox, await checkedAuth(body.auth, config)) : null;
    const headers = await sealHeaders(secretBox, (body.headers ?? []) as HeaderInput[]);
    const secret = generateEndpointSecret();
    const endpoint = await sql.begin(async (tx) =>
      insertEndpoint(tx, {
        merchantId: c.var.merchant.id,
        url,
        description: body.description ?? null,
        eventTypes: body.eventTypes ?? null,
        rateLimitPerSecond: body.rateLimitPerSecond ?? null,
        ...(body.maxInFlight === undefined ? {} : { maxInFlight: body.maxInFlight }),
        ordered: body.ordered ?? false,
        secretEnvelope: await secretBox.encrypt(secret),
        headers,
        auth,
        filter,
      }),
    );
    return c.json({ ...endpointView(endpoint), secret, ...urlWarning(warning) }, 201);
  });

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listEndpoints(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(toPage(rows, q.limit, endpointView), 200);
  });

  app.openapi(getRoute, async (c) => {
    const endpoint = await getEndpoint(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!endpoint) throw new NotFoundError('Endpoint');
    return c.json(endpointView(endpoint), 200);
  });

  app.openapi(patchRoute, async (c) => {
    const body = c.req.valid('json');
    const { sql, config, secretBox } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const id = c.req.valid('param').id;
    checkedFilter(body.filter);
    // 404 before the URL check, and the check (DNS) outside the transaction that locks the row.
    if (!(await getEndpoint(sql, merchantId, id))) throw new NotFoundError('Endpoint');
    const checked = body.url === undefined ? undefined : await allowedUrl(body.url, config);
    const { headers: headersIn, auth: authIn, ...rest } = body;
    const changes = {
      ...rest,
      ...(checked === undefined ? {} : { url: checked.url }),
      ...(headersIn === undefined ? {} : { headers: await sealHeaders(secretBox, (headersIn ?? []) as HeaderInput[]) }),
      ...(authIn === undefined ? {} : { auth: authIn === null ? null : await sealAuth(secretBox, await checkedAuth(authIn, config)) }),
    };
    const endpoint = await sql.begin(async (tx) => {
      const before = await lockEndpoint(tx, merchantId, id);
      if (!before) return undefined;
      refuseAuthorizationClash(changes.headers ?? before.headers, changes.auth === undefined ? before.auth : changes.auth);
      const after = await updateEndpoint(tx, merchantId, id, changes);
      if (before.status === 'disabled' && after?.status === 'enabled') await resetEndpointHealth(tx, before.id);
      return after;
    });
    if (!endpoint) throw new NotFoundError('Endpoint');
    return c.json({ ...endpointView(endpoint), ...urlWarning(checked?.warning) }, 200);
  });

  app.openapi(deleteRoute, async (c) => {
    const deleted = await c.var.deps.sql.begin((tx) => deleteEndpoint(tx, c.var.merchant.id, c.req.valid('param').id));
    if (!deleted) throw new NotFoundError('Endpoint');
    return c.body(null, 204);
  });

  addSigningRoutes(app);
  addOperationRoutes(app);
  addFilterRoutes(app);
  addStatsRoutes(app);
  return app;
}
