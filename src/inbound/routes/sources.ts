import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import { fromBase64 } from '../../core/crypto.js';
import type { AppEnv } from '../../core/http/env.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { jsonBody, queryParams } from '../../core/http/validate.js';
import { getSource, insertSource, listSources, type SourceRow } from '../source-store.js';
import { INBOUND_PROVIDERS, type InboundProvider } from '../verifiers/index.js';

const ADYEN_HMAC_KEY = /^(?:[0-9a-fA-F]{2}){16,}$/;
const PAYSTACK_SECRET_KEY = /^sk_(?:test|live)_/;

/**
 * Why `secret` is not a signing secret in `provider`'s own format, or undefined when it
 * fits (or the format is not known beyond "non-empty, no surrounding whitespace"). Catches
 * a pasted API key or public key here rather than at the first webhook.
 */
export function secretFormatProblem(provider: InboundProvider, secret: string): string | undefined {
  if (secret !== secret.trim()) return 'the secret has leading or trailing whitespace';
  switch (provider) {
    case 'stripe':
      return secret.startsWith('whsec_')
        ? undefined
        : 'a Stripe signing secret starts with whsec_ (Dashboard → Webhooks → endpoint → Signing secret)';
    case 'standard-webhooks': {
      // The whsec_ prefix is optional, as in the Standard Webhooks libraries.
      const key = fromBase64(secret.replace(/^whsec_/, ''));
      return key && key.byteLength >= 16 && key.byteLength <= 64
        ? undefined
        : 'a Standard Webhooks secret is whsec_ followed by base64 of 16 to 64 bytes';
    }
    case 'adyen':
      return ADYEN_HMAC_KEY.test(secret)
        ? undefined
        : 'an Adyen HMAC key is hex, an even number of at least 32 characters (Customer Area → Developers → Webhooks → webhook → HMAC key)';
    case 'paystack':
      return PAYSTACK_SECRET_KEY.test(secret)
        ? undefined
        : 'Paystack signs with the secret key, which starts with sk_test_ or sk_live_ (Settings → API Keys & Webhooks), not the public key pk_…';
    default:
      return undefined;
  }
}

/**
 * Why `url` cannot be a Square notification URL, or undefined when it can: an absolute
 * https URL (http too when `allowHttp`, i.e. SWITCHYARD_ALLOW_PRIVATE_URLS). It is stored
 * as given, never normalised: Square signs the string exactly as entered in the subscription.
 */
export function notificationUrlProblem(url: string, allowHttp: boolean): string | undefined {
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

const createSourceBody = (allowHttp: boolean) =>
  z
    .object({
      provider: z.enum(INBOUND_PROVIDERS, { message: `provider must be one of: ${INBOUND_PROVIDERS.join(', ')}` }),
      secret: z.string().min(1).max(1024),
      name: z.string().trim().min(1).max(200).optional(),
      toleranceSeconds: z.number().int().min(1).max(86_400).optional(),
      notificationUrl: z.string().min(1).max(2048).optional(),
    })
    .strict()
    .superRefine((b, ctx) => {
      const secretProblem = secretFormatProblem(b.provider, b.secret);
      if (secretProblem) ctx.addIssue({ code: 'custom', path: ['secret'], message: secretProblem });
      if (b.provider === 'square') {
        const urlProblem =
          b.notificationUrl === undefined
            ? 'a Square source needs notificationUrl: the notification URL of the Square webhook subscription, which Square signs with the body'
            : notificationUrlProblem(b.notificationUrl, allowHttp);
        if (urlProblem) ctx.addIssue({ code: 'custom', path: ['notificationUrl'], message: urlProblem });
      } else if (b.notificationUrl !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['notificationUrl'], message: 'notificationUrl applies to square sources only' });
      }
    });

/**
 * `POST /v1/sources`, `GET /v1/sources`, `GET /v1/sources/{id}` (CONTRACT.md "Sources").
 * The signing secret is encrypted before it is stored and never returned; its format is
 * checked per provider (secretFormatProblem). A Square source needs `notificationUrl`
 * (notificationUrlProblem), which the source view returns (null for other providers).
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
      notificationUrl: s.notificationUrl,
      inboundUrl: base ? new URL(path, base).toString() : path,
      createdAt: s.createdAt.toISOString(),
    };
  };

  app.post('/', async (c) => {
    const body = await jsonBody(c, createSourceBody(c.var.deps.config.SWITCHYARD_ALLOW_PRIVATE_URLS));
    const { sql, secretBox } = c.var.deps;
    const source = await sql.begin(async (tx) =>
      insertSource(tx, {
        merchantId: c.var.merchant.id,
        provider: body.provider,
        name: body.name ?? null,
        toleranceSeconds: body.toleranceSeconds ?? 300,
        notificationUrl: body.notificationUrl ?? null,
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
