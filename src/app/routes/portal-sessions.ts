// (node) `POST /v1/portal/sessions`: a one-time link into the merchant portal (src/app/portal) for the merchant's team.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { sha256Hex } from '../../core/crypto.js';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, isoTimestamp, jsonBodyOf, jsonResponse, merchantAuth, problems } from '../../core/http/openapi.js';
import { insertPortalSession } from '../portal/portal-store.js';
import { newPortalToken } from '../portal/session.js';

/** Default and longest lifetime of a portal link, seconds (1 h and 30 days). */
const DEFAULT_LINK_SECONDS = 3600;
const MAX_LINK_SECONDS = 30 * 24 * 3600;

const createPortalSessionBody = z
  .object({
    capabilities: z
      .array(z.enum(['read', 'manage_endpoints', 'replay', 'reviews']))
      .min(1)
      .max(4)
      .optional()
      .openapi({
        description:
          'What the link may do: `read` (every page), `manage_endpoints` (create, edit, enable/disable, rotate, test), `replay` (replay events, recover endpoints), `reviews`. Default `["read", "replay"]`; `read` is added when missing.',
      }),
    expiresInSeconds: z
      .number()
      .int()
      .min(60)
      .max(MAX_LINK_SECONDS)
      .optional()
      .openapi({ description: 'How long the link, and the session it opens, last (60 s to 30 days; default 3600).' }),
  })
  .strict()
  .openapi('CreatePortalSession');

const PortalLink = z
  .object({
    url: z.string().openapi({ example: 'https://hooks.example.com/portal/sessions/Xb3…', description: 'Usable once.' }),
    expiresAt: isoTimestamp(),
  })
  .openapi('PortalLink');

const createRoute = defineRoute({
  method: 'post',
  path: '/sessions',
  'x-switchyard-permission': 'portal:write',
  tags: ['Portal'],
  summary: 'Create a one-time portal link',
  security: merchantAuth,
  request: { body: { ...jsonBodyOf(createPortalSessionBody), required: false } },
  responses: { 201: jsonResponse(PortalLink, 'The link and when it expires'), ...problems({ 400: ['invalid_request'] }) },
});

/**
 * `POST /v1/portal/sessions {"capabilities"?, "expiresInSeconds"?}` → 201 `{"url", "expiresAt"}` (docs/http-api.md
 * "Portal"): a link to `/portal/sessions/{token}` that opens a portal session once, with those capabilities, until
 * `expiresAt`. The URL's origin is SWITCHYARD_PUBLIC_URL when set, else the request's. Only the token's SHA-256 is stored.
 */
export function portalSessionRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(createRoute, async (c) => {
    const body = c.req.valid('json') ?? {};
    const { sql, clock, config } = c.var.deps;
    const now = clock();
    const capabilities = [...new Set(['read' as const, ...(body.capabilities ?? ['read', 'replay'])])];
    const expiresAt = new Date(now.getTime() + (body.expiresInSeconds ?? DEFAULT_LINK_SECONDS) * 1000);
    const token = newPortalToken();
    await insertPortalSession(sql, {
      tokenHash: await sha256Hex(token),
      kind: 'link',
      merchantId: c.var.merchant.id,
      capabilities,
      createdAt: now,
      expiresAt,
      apiKeyId: c.var.merchant.apiKeyId,
    });
    const origin = config.SWITCHYARD_PUBLIC_URL?.replace(/\/+$/, '') ?? new URL(c.req.url).origin;
    return c.json({ url: `${origin}/portal/sessions/${token}`, expiresAt: expiresAt.toISOString() }, 201);
  });
  return app;
}
