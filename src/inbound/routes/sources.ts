import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import {
  createRouter,
  defineRoute,
  isoTimestamp,
  idParam,
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
  getSource,
  insertSource,
  listActiveSourceSecrets,
  listSources,
  lockSource,
  rotateSourceSecret,
  sourceHasApiKey,
  updateSourceSettings,
  type SourceRow,
} from '../source-store.js';
import { INBOUND_PROVIDERS, type InboundProvider } from '../verifiers/index.js';
import { invalidateSource } from '../source-cache.js';
import { secretProblem } from '../secret-rules.js';

/**
 * Why `url` cannot be a Square notification URL (absolute https; http too when `allowHttp`),
 * or undefined. Stored as given: Square signs the string exactly as entered.
 */
function notificationUrlProblem(url: string, allowHttp: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'notificationUrl must be an absolute URL, exactly as entered in the Square webhook subscription';
  }
  if (url !== url.trim()) return 'notificationUrl has leading or trailing whitespace';
  if (parsed.protocol === 'https:' || (allowHttp && parsed.protocol === 'http:')) return undefined;
  return allowHttp ? 'notificationUrl must be an http or https URL' : 'notificationUrl must be an https URL';
}

/** The providers whose objects `trust: fetch` reads back (src/payments-api/psp-objects.ts). */
const FETCH_PROVIDERS: readonly InboundProvider[] = ['stripe'];

/** Why a source of `provider` cannot have `trust: fetch` (README "Verify or fetch"), or undefined. */
function fetchTrustProblem(provider: InboundProvider): string | undefined {
  if (FETCH_PROVIDERS.includes(provider)) return undefined;
  if (provider === 'adyen') {
    return (
      "trust 'fetch' reads each object back from the PSP's API, and Adyen documents no API that returns a payment's " +
      "state (the Checkout API has no payment GET): keep trust 'signature' for Adyen sources"
    );
  }
  return `trust 'fetch' is available for ${FETCH_PROVIDERS.join(', ')} sources only: Switchyard reads no objects from ${provider}`;
}

const FETCH_NEEDS_API_KEY = "trust 'fetch' needs the source's apiKey: the PSP's objects are read with it";

const trustField = z.enum(['signature', 'fetch']).openapi({
  description:
    'How processing trusts verified events (README "Verify or fetch"): `signature` (default) applies the payload; `fetch` ' +
    "applies the object's current state read from the PSP's API with `apiKey` (Stripe only; refused for Adyen, which has no such API).",
});

// The URL's scheme rule depends on SWITCHYARD_ALLOW_PRIVATE_URLS, so the handler checks it
// (notificationUrlProblem); everything else is in the schema.
const createSourceBody = z
  .object({
    provider: z.enum(INBOUND_PROVIDERS, { message: `provider must be one of: ${INBOUND_PROVIDERS.join(', ')}` }),
    secret: z.string().min(1).max(1024).openapi({ description: "The provider's signing secret, in its own format (never returned)." }),
    name: z.string().trim().min(1).max(200).optional(),
    toleranceSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .openapi({ description: 'Timestamp tolerance, seconds (default 300).' }),
    notificationUrl: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .openapi({ description: 'Square only (required there): the notification URL exactly as entered in the subscription.' }),
    apiKey: z.string().min(1).max(1024).optional().openapi({
      description:
        'The PSP API credential the payments API connectors use (Stripe `sk_…`, Adyen API key); encrypted at rest, never returned.',
    }),
    apiBaseUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional()
      .openapi({
        description:
          'Overrides the PSP API base URL (a sandbox, or a local stand-in such as stripe-mock). https only, and never loopback, private, ' +
          'link-local or metadata addresses (400 `url_not_allowed`), unless the operator set SWITCHYARD_ALLOW_PRIVATE_URLS=true.',
      }),
    merchantAccount: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .openapi({ description: 'Adyen only: the merchant account the Checkout API calls name.' }),
    trust: trustField.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.trust === 'fetch') {
      const problem = fetchTrustProblem(b.provider) ?? (b.apiKey === undefined ? FETCH_NEEDS_API_KEY : undefined);
      if (problem) ctx.addIssue({ code: 'custom', path: ['trust'], message: problem });
    }
    // Format and strength per provider (src/inbound/secret-rules.ts): a weak secret is never stored.
    const problem = secretProblem(b.provider, b.secret);
    if (problem) ctx.addIssue({ code: 'custom', path: ['secret'], message: problem });
    if (b.provider === 'square' && b.notificationUrl === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['notificationUrl'],
        message:
          'a Square source needs notificationUrl: the notification URL of the Square webhook subscription, which Square signs with the body',
      });
    } else if (b.provider !== 'square' && b.notificationUrl !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['notificationUrl'], message: 'notificationUrl applies to square sources only' });
    }
  })
  .openapi('CreateSource');

/**
 * Throws 400 `url_not_allowed` for an `apiBaseUrl` the SSRF rules refuse (`deps.checkOutboundUrl`;
 * https unless SWITCHYARD_ALLOW_PRIVATE_URLS, since the API key travels to it). Without the
 * check (Workers) nothing is allowed. Returns the check's warning for a host that does not resolve
 * now (saved all the same: every PSP call is checked again when it connects).
 */
async function checkApiBaseUrl(deps: AppEnv['Variables']['deps'], url: string): Promise<string | undefined> {
  const allowPrivate = deps.config.SWITCHYARD_ALLOW_PRIVATE_URLS;
  const checked = deps.checkOutboundUrl
    ? await deps.checkOutboundUrl(url, { allowPrivate, requireHttps: !allowPrivate })
    : { ok: false as const, error: 'this runtime cannot check it' };
  if (!checked.ok) {
    const why = checked.error === 'URL must use https' ? `${checked.error} (http needs SWITCHYARD_ALLOW_PRIVATE_URLS=true)` : checked.error;
    throw new AppError('url_not_allowed', 400, `The apiBaseUrl is not allowed: ${why}.`);
  }
  return checked.value.warning;
}

/** Longest overlap a rotation may give the previous secrets: 30 days, in seconds. */
const MAX_PREVIOUS_EXPIRES_IN_SECONDS = 30 * 86_400;
/** Default overlap of a rotation (docs/http-api.md "Sources": 24 h), seconds. */
const DEFAULT_PREVIOUS_EXPIRES_IN_SECONDS = 86_400;

const rotateSecretBody = z
  .object({
    secret: z.string().min(1).max(1024).openapi({ description: "The new signing secret, in the provider's own format." }),
    previousExpiresInSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_PREVIOUS_EXPIRES_IN_SECONDS)
      .optional()
      .openapi({ description: 'How long the previous secrets keep verifying, seconds (default 86400; 0 = stop now; at most 30 days).' }),
  })
  .strict()
  .openapi('RotateSourceSecret');

const patchSourceBody = z
  .object({
    trust: trustField.optional(),
    apiKey: z.string().min(1).max(1024).optional().openapi({
      description: 'A new PSP API credential (encrypted at rest, never returned); the previous one is replaced.',
    }),
  })
  .strict()
  .refine((b) => b.trust !== undefined || b.apiKey !== undefined, { message: 'give trust, apiKey or both' })
  .openapi('PatchSource');

const SourceView = z
  .object({
    id: z.string().openapi({ example: 'src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    provider: z.enum(INBOUND_PROVIDERS),
    name: z.string().nullable(),
    toleranceSeconds: z.number().int(),
    notificationUrl: z.string().nullable(),
    trust: trustField,
    inboundUrl: z.string().openapi({ description: 'Where the PSP posts: `/inbound/{id}` (absolute when SWITCHYARD_PUBLIC_URL is set).' }),
    createdAt: isoTimestamp(),
  })
  .openapi('Source');

const SourceWithSecrets = SourceView.extend({
  secrets: z
    .array(z.object({ createdAt: isoTimestamp(), expiresAt: isoTimestamp().nullable() }))
    .openapi({ description: 'The secrets that verify now, newest first (never the secrets themselves).' }),
}).openapi('SourceWithSecrets');

const TAGS = ['Sources'];

const createSource = defineRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'sources:write',
  tags: TAGS,
  summary: 'Create a source',
  security: merchantAuth,
  request: { body: jsonBodyOf(createSourceBody) },
  responses: {
    201: jsonResponse(SourceView.extend({ warnings }), 'The source (and `warnings`, if any)'),
    ...problems({ 400: ['invalid_request', 'url_not_allowed'] }),
  },
});

const listSourcesRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'sources:read',
  tags: TAGS,
  summary: 'List sources, newest first',
  security: merchantAuth,
  request: { query: pageQuery('src') },
  responses: { 200: jsonResponse(pageOf(SourceView), 'A page of sources') },
});

const getSourceRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'sources:read',
  tags: TAGS,
  summary: 'Get a source',
  security: merchantAuth,
  request: { params: idParam('src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c') },
  responses: { 200: jsonResponse(SourceView, 'The source'), ...problems({ 404: ['not_found'] }) },
});

const patchSourceRoute = defineRoute({
  method: 'patch',
  path: '/{id}',
  tags: TAGS,
  summary: "Change a source's trust or API key",
  description:
    '`trust: fetch` needs an API key (given here or before) and a provider whose objects Switchyard reads (Stripe); it applies to the events processed from then on.',
  security: merchantAuth,
  'x-switchyard-permission': 'sources:write',
  request: { params: idParam('src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c'), body: jsonBodyOf(patchSourceBody) },
  responses: { 200: jsonResponse(SourceView, 'The source'), ...problems({ 400: ['invalid_request'], 404: ['not_found'] }) },
});

const rotateSecretRoute = defineRoute({
  method: 'post',
  path: '/{id}/secrets',
  'x-switchyard-permission': 'sources:write',
  tags: TAGS,
  summary: 'Rotate the signing secret',
  description:
    'The new secret verifies from now on; the previous ones keep verifying for `previousExpiresInSeconds` ' +
    "(default 24 h; one due to expire sooner keeps its expiry). The secret's format is checked as on creation.",
  security: merchantAuth,
  request: { params: idParam('src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c'), body: jsonBodyOf(rotateSecretBody) },
  responses: { 200: jsonResponse(SourceWithSecrets, 'The source and the secrets that verify now'), ...problems({ 404: ['not_found'] }) },
});

/**
 * `POST /v1/sources`, `GET /v1/sources`, `GET /v1/sources/{id}`, `PATCH /v1/sources/{id}` and `POST
 * /v1/sources/{id}/secrets` (docs/http-api.md "Sources"). Secrets are checked per provider
 * (secret-rules.ts), stored encrypted and never returned.
 */
export function sourceRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  const view = (c: { var: AppEnv['Variables'] }, s: SourceRow): z.infer<typeof SourceView> => {
    const path = `/inbound/${s.id}`;
    const base = c.var.deps.config.SWITCHYARD_PUBLIC_URL;
    return {
      id: s.id,
      provider: s.provider as InboundProvider,
      name: s.name,
      toleranceSeconds: s.toleranceSeconds,
      notificationUrl: s.notificationUrl,
      trust: s.trust,
      inboundUrl: base ? new URL(path, base).toString() : path,
      createdAt: s.createdAt.toISOString(),
    };
  };

  app.openapi(createSource, async (c) => {
    const body = c.req.valid('json');
    const { sql, secretBox, config } = c.var.deps;
    if (body.notificationUrl !== undefined) {
      const urlProblem = notificationUrlProblem(body.notificationUrl, config.SWITCHYARD_ALLOW_PRIVATE_URLS);
      if (urlProblem) throw new ValidationError([{ path: ['notificationUrl'], message: urlProblem, code: 'custom' }]);
    }
    const warning = body.apiBaseUrl === undefined ? undefined : await checkApiBaseUrl(c.var.deps, body.apiBaseUrl);
    const source = await sql.begin(async (tx) =>
      insertSource(tx, {
        merchantId: c.var.merchant.id,
        provider: body.provider,
        name: body.name ?? null,
        toleranceSeconds: body.toleranceSeconds ?? 300,
        notificationUrl: body.notificationUrl ?? null,
        secretEnvelope: await secretBox.encrypt(body.secret),
        apiKeyEnvelope: body.apiKey === undefined ? null : await secretBox.encrypt(body.apiKey),
        apiBaseUrl: body.apiBaseUrl ?? null,
        merchantAccount: body.merchantAccount ?? null,
        trust: body.trust ?? 'signature',
      }),
    );
    return c.json({ ...view(c, source), ...urlWarning(warning) }, 201);
  });

  app.openapi(listSourcesRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listSources(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(
      toPage(rows, q.limit, (s) => view(c, s)),
      200,
    );
  });

  app.openapi(getSourceRoute, async (c) => {
    const source = await getSource(c.var.deps.sql, c.var.merchant.id, c.req.valid('param').id);
    if (!source) throw new NotFoundError('Source');
    return c.json(view(c, source), 200);
  });

  app.openapi(patchSourceRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { sql, secretBox } = c.var.deps;
    const apiKeyEnvelope = body.apiKey === undefined ? undefined : await secretBox.encrypt(body.apiKey);
    const source = await sql.begin(async (tx) => {
      const locked = await lockSource(tx, c.var.merchant.id, id);
      if (!locked) throw new NotFoundError('Source');
      if (body.trust === 'fetch') {
        const problem =
          fetchTrustProblem(locked.provider as InboundProvider) ??
          (apiKeyEnvelope === undefined && !(await sourceHasApiKey(tx, locked.id)) ? FETCH_NEEDS_API_KEY : undefined);
        if (problem) throw new ValidationError([{ path: ['trust'], message: problem, code: 'custom' }]);
      }
      return updateSourceSettings(tx, locked.id, {
        ...(body.trust ? { trust: body.trust } : {}),
        ...(apiKeyEnvelope ? { apiKeyEnvelope } : {}),
      });
    });
    return c.json(view(c, source), 200);
  });

  app.openapi(rotateSecretRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { sql, secretBox, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const now = clock();
    // 404 before the format check: another merchant's source says nothing about itself.
    const known = await getSource(sql, merchantId, id);
    if (!known) throw new NotFoundError('Source');
    const problem = secretProblem(known.provider as InboundProvider, body.secret);
    if (problem) throw new ValidationError([{ path: ['secret'], message: problem, code: 'custom' }]);
    const secretEnvelope = await secretBox.encrypt(body.secret);
    const overlapSeconds = body.previousExpiresInSeconds ?? DEFAULT_PREVIOUS_EXPIRES_IN_SECONDS;
    const rotated = await sql.begin(async (tx) => {
      const source = await lockSource(tx, merchantId, id);
      if (!source) return undefined;
      await rotateSourceSecret(tx, {
        sourceId: source.id,
        secretEnvelope,
        now,
        previousExpiresAt: new Date(now.getTime() + overlapSeconds * 1000),
      });
      return { source, secrets: await listActiveSourceSecrets(tx, source.id, now) };
    });
    // This process's inbound source cache forgets the source now; other processes' within its TTL.
    invalidateSource(id);
    if (!rotated) throw new NotFoundError('Source');
    return c.json(
      {
        ...view(c, rotated.source),
        secrets: rotated.secrets.map((k) => ({ createdAt: k.createdAt.toISOString(), expiresAt: k.expiresAt?.toISOString() ?? null })),
      },
      200,
    );
  });
  return app;
}
