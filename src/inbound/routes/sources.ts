import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import { fromBase64 } from '../../core/crypto.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { jsonBody, queryParams } from '../../core/http/validate.js';
import { getSource, insertSource, listSources, type SourceRow } from '../source-store.js';

/** Providers whose verifiers exist today; the rest of CONTRACT.md's list comes with their verifiers. */
const SUPPORTED = ['stripe', 'standard-webhooks'] as const;

const createSourceBody = z
  .object({
    provider: z.enum(SUPPORTED, {
      message: `provider must be one of: ${SUPPORTED.join(', ')} (adyen, razorpay, checkout, paystack, square, gocardless and mercadopago are not supported yet)`,
    }),
    secret: z.string().min(1).max(1024),
    name: z.string().trim().min(1).max(200).optional(),
    toleranceSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    // The secret in the provider's own format, so a pasted API key is caught here, not at
    // the first webhook.
    if (b.secret !== b.secret.trim()) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'the secret has leading or trailing whitespace' });
    } else if (b.provider === 'stripe' && !b.secret.startsWith('whsec_')) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a Stripe signing secret starts with whsec_ (Dashboard → Webhooks → endpoint → Signing secret)' });
    } else if (b.provider === 'standard-webhooks') {
      const key = fromBase64(b.secret.replace(/^whsec_/, ''));
      if (!key || key.byteLength < 16) {
        ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a Standard Webhooks secret is whsec_ followed by base64 of 16 to 64 bytes' });
      }
    }
  });

/**
 * `POST /v1/sources`, `GET /v1/sources`, `GET /v1/sources/{id}` (CONTRACT.md "Sources").
 * The signing secret is encrypted before it is stored and never returned.
 */
export function sourceRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const view = (c: { var: AppEnv['Variables'] }, s: SourceRow) => {
    const path = `/inbound/${s.id}`;
    const base = c.var.deps.config.SWITCHYARD_PUBLIC_URL;
    return {
      id: s.id,
      provider: s.provider,
      name: s.name,
      toleranceSeconds: s.toleranceSeconds,
      inboundUrl: base ? new URL(path, base).toString() : path,
      createdAt: s.createdAt.toISOString(),
    };
  };

  app.post('/', async (c) => {
    const body = await jsonBody(c, createSourceBody);
    const { sql, secretBox } = c.var.deps;
    const source = await sql.begin(async (tx) =>
      insertSource(tx, {
        merchantId: c.var.merchant.id,
        provider: body.provider,
        name: body.name ?? null,
        toleranceSeconds: body.toleranceSeconds ?? 300,
        secretEnvelope: await secretBox.encrypt(body.secret),
      }),
    );
    return c.json(view(c, source), 201);
  });

  app.get('/', async (c) => {
    const q = queryParams(c, pageQuery);
    const rows = await listSources(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter);
    return c.json(toPage(rows, q.limit, (s) => view(c, s)));
  });

  app.get('/:id', async (c) => {
    const source = await getSource(c.var.deps.sql, c.var.merchant.id, c.req.param('id'));
    if (!source) throw new NotFoundError('Source');
    return c.json(view(c, source));
  });
  return app;
}
