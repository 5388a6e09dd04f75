// Shared set-up of the payments API tests: a real database, the real app, the command
// routes with short PSP timeouts, PSP simulators on msw, and the inbound processing task
// run directly.
import { Hono } from 'hono';
import { expect } from 'vitest';
import { requireMerchant } from '../../src/core/auth/middleware.js';
import type { AppEnv, Deps } from '../../src/core/deps.js';
import { onError } from '../../src/core/http/problem.js';
import { requestContext } from '../../src/core/http/request-context.js';
import { paymentCommandRoutes } from '../../src/payments-api/routes/payment-commands.js';
import type { PaymentCommandOptions } from '../../src/payments-api/commands.js';
import { processInboundEvent } from '../../src/inbound/process-event.task.js';
import { aMerchant, jsonRequest, testApp } from '../app.js';

/** PSP timeout of the command routes under test, ms: far below the simulators' held answers. */
export const PSP_TIMEOUT_MS = 250;
export const STRIPE_BASE = 'https://stripe.simulator.test';
export const ADYEN_BASE = 'https://adyen.simulator.test/v71';
export const GATEWAY = 'http://gateway.test';

export const commandOptions: PaymentCommandOptions = { pspTimeoutMs: PSP_TIMEOUT_MS, lockTimeoutSeconds: 60, syncDelaySeconds: 30 };

/** The full app plus the command routes mounted with test options (short PSP timeout). */
export function apps(deps: Deps, options: PaymentCommandOptions = commandOptions) {
  const app = testApp(deps);
  const commands = new Hono<AppEnv>();
  commands.use(
    '*',
    requestContext(() => deps),
  );
  commands.onError(onError);
  commands.use('/v1/*', requireMerchant());
  commands.route('/v1/payments', paymentCommandRoutes(options));
  return { app, commands };
}

export interface Shop {
  merchantId: string;
  apiKey: string;
  sourceId: string;
  inboundUrl: string;
}

/** A merchant of its own with one PSP source carrying API credentials. */
export async function aShop(
  deps: Deps,
  app: ReturnType<typeof testApp>,
  source: { provider: 'stripe' | 'adyen'; secret: string; apiKey: string; apiBaseUrl: string; merchantAccount?: string },
): Promise<Shop> {
  const m = await aMerchant(deps, `Shop ${Math.random().toString(36).slice(2, 8)}`);
  const res = await app.request('/v1/sources', jsonRequest('POST', source, m.apiKey));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string; inboundUrl: string } & Record<string, unknown>;
  expect(body).not.toHaveProperty('apiKey');
  return { merchantId: m.id, apiKey: m.apiKey, sourceId: body.id, inboundUrl: `${GATEWAY}${body.inboundUrl}` };
}

/** A POST with the merchant's key, JSON body and an Idempotency-Key (omitted when null). */
export function command(shop: Shop, key: string | null, body?: unknown): RequestInit {
  const init =
    body === undefined ? { method: 'POST', headers: { authorization: `Bearer ${shop.apiKey}` } } : jsonRequest('POST', body, shop.apiKey);
  if (key !== null) (init.headers as Record<string, string>)['idempotency-key'] = key;
  return init;
}

/** Runs the processing task on every inbound event of the source still `received`, oldest first; returns what each did (or the error it threw). */
export async function processReceived(deps: Deps, sourceId: string): Promise<(string | Error)[]> {
  const rows = await deps.sql<{ id: string }[]>`
    select id from gw.inbound_events where source_id = ${sourceId} and status = 'received' order by id`;
  const out: (string | Error)[] = [];
  for (const r of rows) {
    try {
      out.push((await processInboundEvent(deps, { inboundEventId: r.id })).result);
    } catch (error) {
      out.push(error as Error);
    }
  }
  return out;
}

/** GET with the merchant's key; JSON body. */
export async function getJson<T = Record<string, unknown>>(app: ReturnType<typeof testApp>, shop: Shop, path: string): Promise<T> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${shop.apiKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** The merchant's ledger transactions (kind, amount of the debit entry), oldest first. */
export async function ledgerOf(deps: Deps, merchantId: string): Promise<{ kind: string; amount: string }[]> {
  return deps.sql<{ kind: string; amount: string }[]>`
    select t.kind, e.amount::text as amount
      from gw.ledger_transactions t
      join gw.ledger_entries e on e.transaction_id = t.id and e.direction = 'debit'
     where t.merchant_id = ${merchantId}
     order by t.id`;
}
