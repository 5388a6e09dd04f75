// The OpenAPI 3.1 document, built from the zod schemas that validate requests (createRouter, defineRoute).
import { OpenAPIHono, createRoute, z, type RouteConfig } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import type { MiddlewareHandler } from 'hono';
import type { ErrorCode } from '../errors.js';
import type { AppEnv } from '../deps.js';
import { problemBody, problemResponse } from './problem.js';
import { jsonBodyReader, validationError } from './validate.js';

/** Name of the security scheme of `/v1/*`: `Authorization: Bearer <merchant API key>`. */
const MERCHANT_API_KEY = 'merchantApiKey';
/** Name of the security scheme of `/admin/*`: `Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>`. */
const ADMIN_TOKEN = 'adminToken';

/** `security` of a `/v1` route: the merchant's API key as a bearer token. */
export const merchantAuth = [{ [MERCHANT_API_KEY]: [] }];
/** `security` of an `/admin` route: the operator's admin token as a bearer token. */
export const adminAuth = [{ [ADMIN_TOKEN]: [] }];

/**
 * An OpenAPIHono whose zod failures (body, query, path) throw ValidationError (400 `invalid_request`). Mount it with
 * `app.route()`: routes and documentation move up together.
 * @example
 * createRouter().openapi(getWidget, async (c) => c.json(view(await load(c.req.valid('param').id)), 200));
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}

/** An RFC 9457 problem details body, as every error response of the API carries (see problem.ts). */
const Problem = z
  .object({
    type: z.string().openapi({ example: 'https://switchyard.dev/problems/invalid-request' }),
    title: z.string().openapi({ example: 'Bad Request' }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string(),
    code: z.string().openapi({ description: 'Stable snake_case error code; clients may branch on it.' }),
    errors: z
      .array(
        z.object({
          path: z.array(z.union([z.string(), z.number()])),
          message: z.string(),
          code: z.string().optional(),
        }),
      )
      .optional()
      .openapi({ description: 'Validation issues (400 `invalid_request` only).' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details with a stable `code`.' });

type ProblemStatus = 400 | 401 | 402 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 502 | 503;

const PROBLEM_DESCRIPTIONS: Record<ProblemStatus, string> = {
  400: 'The request is invalid',
  401: 'Missing or wrong bearer credentials',
  402: 'The payment was refused (a risk rule blocked it)',
  403: 'Forbidden',
  404: 'Not found (objects of other merchants are not found too)',
  409: 'Conflict with the object’s current state',
  410: 'Gone: the object’s data has expired (retention)',
  413: 'The body is too large',
  415: 'Unsupported media type',
  422: 'Unprocessable',
  429: 'Too many requests; retry after `Retry-After` seconds (README "Rate limits")',
  500: 'A fault on the server’s side (the detail says which)',
  502: 'The PSP failed or refused the request',
  503: 'Temporarily unavailable; retry',
};

type ProblemResponses = Record<number, { description: string; content: { 'application/problem+json': { schema: z.ZodType } } }>;

/** Error responses for a route: per status, the problem `code`s it may answer with (see {@link defineRoute}'s example). */
export function problems(spec: Partial<Record<ProblemStatus, readonly [ErrorCode, ...ErrorCode[]]>>): ProblemResponses {
  const out: ProblemResponses = {};
  for (const [status, codes] of Object.entries(spec) as [string, readonly [ErrorCode, ...ErrorCode[]]][]) {
    out[Number(status)] = {
      description: `${PROBLEM_DESCRIPTIONS[Number(status) as ProblemStatus]}: \`${codes.join('` | `')}\``,
      content: { 'application/problem+json': { schema: Problem.extend({ code: z.enum(codes) }) } },
    };
  }
  return out;
}

/** A JSON response described by `schema`. */
export function jsonResponse<S extends z.ZodType>(
  schema: S,
  description: string,
): { description: string; content: { 'application/json': { schema: S } } } {
  return { description, content: { 'application/json': { schema } } };
}

/** A JSON request body described (and validated) by `schema`. */
export function jsonBodyOf<S extends z.ZodType>(
  schema: S,
  description?: string,
): { content: { 'application/json': { schema: S } }; description?: string } {
  return { content: { 'application/json': { schema } }, ...(description ? { description } : {}) };
}

/** Path parameters `{id}`: a prefixed id such as `src_…`; `example` shows the prefix. */
export function idParam(example: string): z.ZodObject<{ id: z.ZodString }> {
  return z.object({
    id: z
      .string()
      .min(1)
      .openapi({ param: { name: 'id', in: 'path' }, example }),
  });
}

/** A timestamp in a response: ISO 8601 in UTC with milliseconds (`Date.toISOString()`). */
export function isoTimestamp(): z.ZodISODateTime {
  return z.iso.datetime().openapi({ example: '2026-11-22T12:00:00.000Z' });
}

/**
 * `warnings` of a response that succeeded with a caveat: each a stable `code` and a `detail` naming the fix; present
 * only when there is one. `url_unresolvable`: the URL's host does not resolve now (the URL is saved all the same).
 */
export const warnings = z
  .array(z.object({ code: z.enum(['url_unresolvable']), detail: z.string() }))
  .optional()
  .openapi({ description: 'Present only when the request succeeded with a caveat, e.g. `url_unresolvable`.' });

/** The `warnings` field of a response body: `{ warnings: [...] }` when `detail` is set, else nothing. */
export function urlWarning(detail: string | undefined): { warnings?: { code: 'url_unresolvable'; detail: string }[] } {
  return detail === undefined ? {} : { warnings: [{ code: 'url_unresolvable', detail }] };
}

/** A page of a list, as docs/http-api.md answers lists: `{"data": [...], "hasMore": bool}`. */
export function pageOf<S extends z.ZodType>(item: S): z.ZodObject<{ data: z.ZodArray<S>; hasMore: z.ZodBoolean }> {
  return z.object({ data: z.array(item), hasMore: z.boolean() });
}

/**
 * createRoute with house conventions: a JSON body is `required` unless said otherwise and read by {@link jsonBodyReader}
 * first; 400 (body or query), 413 (body), 401 (`security`) and 429 (an API key's rate limit) are documented unless the
 * route lists that status itself.
 * @example
 * const getSource = defineRoute({
 *   method: 'get', path: '/{id}', tags: ['Sources'], security: merchantAuth, request: { params: idParam('src_…') },
 *   responses: { 200: jsonResponse(SourceView, 'The source'), ...problems({ 404: ['not_found'] }) },
 * });
 */
export function defineRoute<R extends RouteConfig>(route: R): R {
  const request = route.request;
  const extra: Record<number, unknown> = {};
  if ((request?.body || request?.query) && !(400 in route.responses)) {
    Object.assign(extra, problems({ 400: ['invalid_request'] }));
  }
  if (request?.body && !(413 in route.responses)) {
    Object.assign(extra, problems({ 413: ['payload_too_large'] }));
  }
  const merchantKey = route.security?.some((s) => MERCHANT_API_KEY in s) ?? false;
  if (route.security && route.security.length > 0 && !(401 in route.responses)) {
    Object.assign(extra, problems({ 401: merchantKey ? ['unauthorized', 'api_key_expired'] : ['unauthorized'] }));
  }
  // A restricted key without the route's permission (README "API keys and permissions").
  if (merchantKey && !(403 in route.responses) && (route as Record<string, unknown>)['x-switchyard-permission'] !== 'any') {
    Object.assign(extra, problems({ 403: ['permission_denied'] }));
  }
  if (route.security?.some((s) => MERCHANT_API_KEY in s) && !(429 in route.responses)) {
    Object.assign(extra, problems({ 429: ['rate_limited'] }));
  }
  const own = route.middleware === undefined ? [] : Array.isArray(route.middleware) ? route.middleware : [route.middleware];
  const withBody = request?.body
    ? {
        request: { ...request, body: { ...request.body, required: request.body.required ?? true } },
        middleware: [jsonBodyReader() as MiddlewareHandler, ...own],
      }
    : {};
  return createRoute({ ...route, ...withBody, responses: { ...route.responses, ...extra } }) as R;
}

/** Routes described in the document that are not OpenAPIHono routes (plain Hono, or another entry's). */
function registerPlainRoutes(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry;
  const status = z.object({ status: z.string() });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    tags: ['Operators'],
    summary: 'Liveness: 200 while the process is up',
    responses: { 200: jsonResponse(status, 'The process is up') },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['Operators'],
    summary: 'Readiness: 200 when the database answers and is migrated, else 503',
    responses: { 200: jsonResponse(status, 'Ready'), 503: jsonResponse(status, 'Not ready') },
  });
  registry.registerPath({
    method: 'post',
    path: '/inbound/{sourceId}',
    tags: ['Inbound'],
    summary: 'A PSP callback, exactly as the PSP sends it',
    description:
      'Verified over the raw bytes in the provider’s own signature scheme (see the README’s provider table); ' +
      'no API key. Adyen is answered `[accepted]` as text/plain.',
    request: {
      params: z.object({ sourceId: z.string().openapi({ param: { name: 'sourceId', in: 'path' }, example: 'src_…' }) }),
      body: { content: { 'application/json': { schema: z.unknown() } }, description: 'The PSP’s request body, byte for byte.' },
    },
    responses: {
      200: jsonResponse(z.object({ received: z.literal(true), duplicate: z.boolean() }), 'Stored (or already stored)'),
      ...problems({
        400: ['payload_too_deep', 'event_id_missing', 'event_text_invalid'],
        401: ['signature_missing', 'signature_invalid', 'timestamp_out_of_tolerance'],
        404: ['source_not_found'],
        413: ['payload_too_large'],
        415: ['unsupported_media_type'],
        429: ['rate_limited'],
        500: ['secret_unreadable'],
        503: ['store_unavailable'],
      }),
    },
  });
}

/** The response headers of README "Rate limits" (draft-ietf-httpapi-ratelimit-headers, RFC 9110 §10.2.3), as components. */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': {
    description:
      'The limit this answer counted against: its name, `q` the burst (requests at once) and `w` the seconds a burst takes to come back. Sent on every answer to a request that carried a bearer token (`/v1`), and on inbound 401 and 429.',
    schema: { type: 'string', examples: ['"api";q=200;w=2', '"inbound-unverified";q=20;w=60'] },
  },
  RateLimit: {
    description:
      'What is left of the limit: `r` requests allowed now, `t` seconds until the burst is whole again (on a 429: until one more is allowed).',
    schema: { type: 'string', examples: ['"api";r=57;t=1'] },
  },
  'Retry-After': {
    description: 'On 429 `rate_limited`: seconds until one more request is allowed.',
    schema: { type: 'integer', minimum: 1, examples: [1] },
  },
} as const;

type RateLimitHeader = keyof typeof RATE_LIMIT_HEADERS;
type DocumentedResponse = { headers?: Record<string, unknown> };
type DocumentedOperation = { security?: Record<string, unknown>[]; responses?: Record<string, DocumentedResponse> };

function headerRefs(names: readonly RateLimitHeader[]): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));
}

/**
 * Declares the rate-limit headers the routes send ({@link RATE_LIMIT_HEADERS}, one shared component each): on every
 * response of an operation behind the merchant API key (the per-key limit runs on all of `/v1`), `Retry-After` added on
 * its 429 (a 429 `rate_limited` added where the route did not list one); on `POST /inbound/{sourceId}`, its 401 and 429 (the limit on failed verifications). Changes `doc` in place.
 */
function declareRateLimitHeaders(doc: { paths?: Record<string, unknown>; components?: Record<string, unknown> }): void {
  doc.components = { ...doc.components, headers: { ...(doc.components?.headers as object | undefined), ...RATE_LIMIT_HEADERS } };
  const add = (response: DocumentedResponse | undefined, status: string) => {
    if (!response) return;
    const names: RateLimitHeader[] =
      status === '429' ? ['RateLimit-Policy', 'RateLimit', 'Retry-After'] : ['RateLimit-Policy', 'RateLimit'];
    response.headers = { ...response.headers, ...headerRefs(names) };
  };
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, DocumentedOperation>)) {
      if (typeof operation !== 'object' || operation === null || !operation.responses) continue;
      if (operation.security?.some((s) => MERCHANT_API_KEY in s)) {
        // Routes built with createRoute itself rather than defineRoute do not list the per-key limit's 429.
        operation.responses['429'] ??= {
          description: `${PROBLEM_DESCRIPTIONS[429]}: \`rate_limited\``,
          content: {
            'application/problem+json': {
              schema: {
                allOf: [
                  { $ref: '#/components/schemas/Problem' },
                  { type: 'object', properties: { code: { type: 'string', enum: ['rate_limited'] } } },
                ],
              },
            },
          },
        } as DocumentedResponse;
        for (const [status, response] of Object.entries(operation.responses)) add(response, status);
      } else if (path === '/inbound/{sourceId}') {
        add(operation.responses['401'], '401');
        add(operation.responses['429'], '429');
      }
    }
  }
}

/** The OpenAPI 3.1 document of `app`; no `servers`, so paths are relative to wherever it is served. */
function openApiDocument(app: OpenAPIHono<AppEnv>): ReturnType<OpenAPIHono<AppEnv>['getOpenAPI31Document']> {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Switchyard',
      version: '1',
      description:
        'A webhook gateway for payments. Amounts are integers in minor units; ids carry a type prefix. ' +
        'Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`. ' +
        'Lists take `limit` (1–250, default 50) and `startingAfter` and answer `{"data", "hasMore"}`.',
    },
    tags: [
      { name: 'Merchant', description: 'The merchant an API key belongs to' },
      { name: 'Sources', description: 'PSP accounts whose callbacks Switchyard receives' },
      { name: 'Inbound events', description: 'What PSPs sent' },
      { name: 'Endpoints', description: 'Where merchants receive webhooks' },
      { name: 'Events', description: 'Events emitted to the merchant and their delivery attempts' },
      { name: 'Payments', description: 'Payments, their transitions and ledger transactions' },
      { name: 'Ledger', description: 'Balances and the ledger check' },
      { name: 'Admin', description: 'Operator routes (admin token)' },
      { name: 'Operators', description: 'Health' },
      { name: 'Inbound', description: 'PSP callbacks' },
      { name: 'Webhooks', description: 'The events Switchyard posts to merchant endpoints (GET /v1/event-types)' },
    ],
  });
  declareRateLimitHeaders(doc as Parameters<typeof declareRateLimitHeaders>[0]);
  return doc;
}

/** The files of the npm package swagger-ui-dist that `/docs` loads. */
export type SwaggerUiFile = 'swagger-ui.css' | 'swagger-ui-bundle.js';

/** Reads a file of the installed swagger-ui-dist (Node: src/app/node/swagger-ui-assets.ts); rejects if it is not installed. */
export type SwaggerUiAssets = (file: SwaggerUiFile) => Promise<Uint8Array>;

const SWAGGER_UI_TYPES: Record<SwaggerUiFile, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

// @hono/swagger-ui puts `${baseUrl}/swagger-ui-dist/<file>` in the page.
const DOCS_ASSETS = '/docs/assets';

/**
 * Mounts `GET /openapi.json` (built on first request: call it after every route) and `GET /docs`
 * (Swagger UI), whose script and styles come from `GET /docs/assets/swagger-ui-dist/<file>`
 * read through `assets`: the page loads nothing from another host (no CDN, no validator badge).
 */
export function mountApiReference(app: OpenAPIHono<AppEnv>, assets: SwaggerUiAssets): void {
  app.openAPIRegistry.registerComponent('securitySchemes', MERCHANT_API_KEY, {
    type: 'http',
    scheme: 'bearer',
    description: 'The merchant API key (`sk_…`), on every `/v1` route.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', ADMIN_TOKEN, {
    type: 'http',
    scheme: 'bearer',
    description: 'SWITCHYARD_ADMIN_TOKEN, on every `/admin` route.',
  });
  registerPlainRoutes(app);
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.get('/openapi.json', (c) => {
    document ??= openApiDocument(app);
    return c.json(document);
  });
  // validatorUrl 'none': Swagger UI would otherwise send the document to validator.swagger.io.
  app.get('/docs', swaggerUI({ url: '/openapi.json', title: 'Switchyard API', baseUrl: DOCS_ASSETS, validatorUrl: 'none' }));
  app.get(`${DOCS_ASSETS}/swagger-ui-dist/:file`, async (c) => {
    const file = c.req.param('file');
    if (!Object.hasOwn(SWAGGER_UI_TYPES, file)) return problemResponse(problemBody('not_found', 404, 'No such file.'));
    const body = await assets(file as SwaggerUiFile);
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': SWAGGER_UI_TYPES[file as SwaggerUiFile],
      'cache-control': 'public, max-age=86400',
    });
  });
}
