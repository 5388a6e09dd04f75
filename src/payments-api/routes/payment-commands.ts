import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { PaymentCommand, PaymentCommandOptions } from '../commands.js';
import { executePaymentCommand } from '../execute-command.js';
import { MAX_MINOR_UNITS } from '../../core/money.js';
import type { AppEnv } from '../../core/deps.js';
import { merchantAuth, problems } from '../../core/http/openapi.js';
import { PaymentView } from './payments.js';
import { currencyCode } from './schemas.js';
import { problemBody, problemResponse } from '../../core/http/problem.js';
import { validationError } from '../../core/http/validate.js';
import { ValidationError } from '../../core/errors.js';
import { metadataIssues } from '../metadata.js';
import { getSourceProvider } from '../connectors/source-store.js';

const TAGS = ['Payments'];

// `abort` on max: past it, int()'s own safe-integer bound would report the same too_big a second time.
const amount = z
  .number()
  .min(1)
  .max(MAX_MINOR_UNITS.toNumber(), { abort: true, message: `at most ${MAX_MINOR_UNITS.toString()} minor units` })
  .int()
  .openapi({ description: 'Integer minor units (ISO 4217 exponent).', example: 2000 });

export const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(255).openapi({
    description: 'Required. 1–255 characters, e.g. a V4 UUID (draft-ietf-httpapi-idempotency-key-header). Kept 24 h.',
    example: '7f1c3c9e-1f0b-4c55-9d4e-0b7d5f1e2a10',
  }),
});

const createBody = z
  .object({
    amount,
    currency: currencyCode().openapi({ type: 'string', example: 'USD' }),
    sourceId: z.string().min(1).max(64).openapi({ description: 'A stripe or adyen source created with apiKey.' }),
    merchantReference: z.string().min(1).max(255),
    captureMethod: z.enum(['automatic', 'manual']).default('automatic'),
    paymentMethod: z
      .union([z.string().min(1).max(255), z.record(z.string(), z.unknown())])
      .optional()
      .openapi({ description: 'Stripe: a PaymentMethod id (pm_card_visa). Adyen: the paymentMethod object.' }),
    customer: z
      .object({
        reference: z.string().max(255).optional(),
        email: z.email().optional(),
        name: z.string().max(255).optional(),
        ip: z.union([z.ipv4(), z.ipv6()]).optional().openapi({ description: "The shopper's IP address, for risk rules (`ip`)." }),
        ipCountry: z
          .string()
          .regex(/^[A-Za-z]{2}$/)
          .optional()
          .openapi({ description: 'ISO 3166-1 alpha-2 country of that IP, as the merchant located it, for risk rules (`ip_country`).' }),
      })
      .strict()
      .optional(),
    metadata: z.record(z.string().max(40), z.string().max(500)).optional(),
  })
  .strict()
  .openapi('CreatePayment');

const amountBody = z.object({ amount: amount.optional() }).strict();
const idParams = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'pay_0193a1b2c3d4e5f60718293a4b5c' }),
});

// The payment as GET /v1/payments/{id} shows it, plus the operation this request made.
export const commandResult = PaymentView.extend({
  operation: z.object({
    id: z.string(),
    kind: z.enum(['create', 'capture', 'void', 'refund']),
    status: z.enum(['requested', 'pending', 'submitted', 'succeeded', 'failed']),
    amount: z.number().nullable(),
    failureCode: z.string().nullable(),
    failureMessage: z.string().nullable(),
  }),
}).openapi('PaymentCommandResult');

const json = <S extends z.ZodType>(schema: S, description: string) => ({ content: { 'application/json': { schema } }, description });
export const replayed = { 'Idempotent-Replayed': { schema: { type: 'string' as const }, description: '`true` on a replayed response.' } };

const commonResponses = {
  202: {
    ...json(commandResult, 'The PSP did not answer in time: the operation is pending and will be synced. Never a failure.'),
    headers: replayed,
  },
  // 400: not stored, so a corrected retry may reuse the key.
  ...problems({
    400: ['idempotency_key_missing', 'idempotency_key_invalid', 'invalid_request'],
    401: ['unauthorized'],
    404: ['not_found', 'source_not_found'],
    402: ['payment_blocked'],
    409: ['idempotency_key_in_progress', 'invalid_payment_state', 'payment_in_review'],
    422: ['idempotency_key_reused', 'amount_out_of_range', 'psp_not_configured', 'url_not_allowed'],
    502: ['psp_request_rejected'],
  }),
};

const routes = {
  create: createRoute({
    method: 'post',
    tags: TAGS,
    security: merchantAuth,
    path: '/',
    'x-switchyard-permission': 'payments:write',
    'x-switchyard-audit': 'own',
    summary: "Create a payment at the source's PSP",
    request: { headers: idempotencyHeaders, body: { content: { 'application/json': { schema: createBody } }, required: true } },
    responses: {
      201: { ...json(commandResult, 'Created (a declined payment is created with status failed).'), headers: replayed },
      ...commonResponses,
    },
  }),
  capture: createRoute({
    method: 'post',
    tags: TAGS,
    security: merchantAuth,
    path: '/{id}/capture',
    'x-switchyard-permission': 'payments:write',
    'x-switchyard-audit': 'own',
    summary: 'Capture an authorized payment, fully (no amount) or partly',
    request: {
      headers: idempotencyHeaders,
      params: idParams,
      body: { content: { 'application/json': { schema: amountBody } }, required: false },
    },
    responses: {
      200: { ...json(commandResult, 'Captured, or submitted (Adyen: the outcome comes by webhook).'), headers: replayed },
      ...commonResponses,
    },
  }),
  void: createRoute({
    method: 'post',
    tags: TAGS,
    security: merchantAuth,
    path: '/{id}/void',
    'x-switchyard-permission': 'payments:write',
    'x-switchyard-audit': 'own',
    summary: 'Void (cancel) an authorized, uncaptured payment',
    request: { headers: idempotencyHeaders, params: idParams },
    responses: { 200: { ...json(commandResult, 'Voided, or submitted (Adyen).'), headers: replayed }, ...commonResponses },
  }),
  refund: createRoute({
    method: 'post',
    tags: TAGS,
    security: merchantAuth,
    path: '/{id}/refunds',
    'x-switchyard-permission': 'payments:write',
    'x-switchyard-audit': 'own',
    summary: 'Refund a captured payment, fully (no amount) or partly; several refunds allowed',
    request: {
      headers: idempotencyHeaders,
      params: idParams,
      body: { content: { 'application/json': { schema: amountBody } }, required: false },
    },
    responses: { 200: { ...json(commandResult, 'Refunded, or submitted.'), headers: replayed }, ...commonResponses },
  }),
};

/**
 * Validation failures as problem+json: no `Idempotency-Key` header → 400 `idempotency_key_missing`; one that is not
 * 1–255 characters → 400 `idempotency_key_invalid`; anything else → 400 `invalid_request` (thrown, as createRouter
 * does). None is stored, so a corrected retry may reuse the key.
 */
export function paymentCommandsHook(
  result:
    | { success: true }
    | { success: false; error: z.ZodError; target?: string }
    | { target: string; success: boolean; error?: z.ZodError },
  c: Context,
): Response | undefined {
  if (result.success || !('error' in result) || !result.error) return undefined;
  if (result.target === 'header') {
    const key = c.req.header('idempotency-key');
    return problemResponse(
      key === undefined
        ? problemBody(
            'idempotency_key_missing',
            400,
            'This request needs an Idempotency-Key header of 1 to 255 characters, e.g. a V4 UUID.',
          )
        : problemBody(
            'idempotency_key_invalid',
            400,
            `The Idempotency-Key header must be 1 to 255 characters; this one is ${key.length}. Use e.g. a V4 UUID.`,
          ),
    );
  }
  throw validationError(result.error);
}

/**
 * `POST /v1/payments`, `/v1/payments/{id}/capture`, `/void`, `/refunds` (docs/http-api.md
 * "Payments"): each requires `Idempotency-Key` and runs through the source's PSP connector
 * ({@link executePaymentCommand}). Mounted at `/v1/payments` beside the GET routes.
 */
export function paymentCommandRoutes(options: PaymentCommandOptions = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: paymentCommandsHook as never });
  const run = (c: Context<AppEnv>, key: string, params: unknown, command: PaymentCommand): Promise<Response> =>
    executePaymentCommand(
      c.var.deps,
      { merchantId: c.var.merchant.id, idempotencyKey: key, method: c.req.method, path: c.req.path, params, command },
      options,
    );

  app.openapi(routes.create, async (c) => {
    const body = c.req.valid('json');
    const { customer, metadata, paymentMethod, ...rest } = body;
    if (metadata) {
      // Checked against the source's PSP before the key is claimed: a 400 is not stored, so a
      // corrected retry may reuse the key. (An unknown source is the command's 404.)
      const provider = await getSourceProvider(c.var.deps.sql, c.var.merchant.id, body.sourceId);
      const issues = provider ? metadataIssues(provider, metadata) : [];
      if (issues.length > 0) throw new ValidationError(issues, "The metadata does not fit the source's PSP.");
    }
    const command: PaymentCommand = {
      kind: 'create',
      input: {
        ...rest,
        ...(paymentMethod !== undefined ? { paymentMethod } : {}),
        ...(customer ? { customer: stripUndefined(customer) } : {}),
        ...(metadata ? { metadata } : {}),
      },
    };
    return (await run(c, c.req.valid('header')['idempotency-key'], body, command)) as never;
  });
  app.openapi(routes.capture, async (c) => {
    const body = c.req.valid('json');
    const { id } = c.req.valid('param');
    const command: PaymentCommand = { kind: 'capture', paymentId: id, ...(body.amount !== undefined ? { amount: body.amount } : {}) };
    return (await run(c, c.req.valid('header')['idempotency-key'], body, command)) as never;
  });
  app.openapi(routes.void, async (c) => {
    const { id } = c.req.valid('param');
    return (await run(c, c.req.valid('header')['idempotency-key'], {}, { kind: 'void', paymentId: id })) as never;
  });
  app.openapi(routes.refund, async (c) => {
    const body = c.req.valid('json');
    const { id } = c.req.valid('param');
    const command: PaymentCommand = { kind: 'refund', paymentId: id, ...(body.amount !== undefined ? { amount: body.amount } : {}) };
    return (await run(c, c.req.valid('header')['idempotency-key'], body, command)) as never;
  });
  return app;
}

function stripUndefined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
