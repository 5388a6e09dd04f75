import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { checkLedger, listBalances } from '../../core/ledger/ledger-store.js';
import { ledgerCheckView } from '../../core/ledger/ledger-view.js';
import { toJsonAmount } from '../../core/money.js';
import { emitOperatorEvent } from '../../core/events/operator-event-store.js';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, jsonResponse, merchantAuth } from '../../core/http/openapi.js';
import { currencyCode, minorAmount } from './schemas.js';

const Balance = z.object({ account: z.string(), currency: z.string(), balance: minorAmount('Debit-positive balance') }).openapi('Balance');

const LedgerCheckView = z
  .object({
    balanced: z.boolean(),
    currencies: z.array(z.object({ currency: z.string(), debits: z.number().int(), credits: z.number().int() })),
    unbalancedTransactions: z.array(z.string()),
    driftedAccounts: z.array(
      z.object({ account: z.string(), currency: z.string(), balance: z.number().int(), sumOfEntries: z.number().int() }),
    ),
  })
  .openapi('LedgerCheck');
type LedgerCheckJson = z.infer<typeof LedgerCheckView>;

const balancesQuery = z.object({
  currency: currencyCode().optional().openapi({ description: 'ISO 4217 code, e.g. EUR', example: 'EUR' }),
});

const balancesRoute = defineRoute({
  method: 'get',
  path: '/balances',
  'x-switchyard-permission': 'ledger:read',
  tags: ['Ledger'],
  summary: 'Account balances per currency',
  security: merchantAuth,
  request: { query: balancesQuery },
  responses: { 200: jsonResponse(z.object({ data: z.array(Balance) }), 'The balances') },
});

const checkRoute = defineRoute({
  method: 'get',
  path: '/check',
  'x-switchyard-permission': 'ledger:read',
  tags: ['Ledger'],
  summary: 'Prove the ledger from its entries',
  security: merchantAuth,
  responses: { 200: jsonResponse(LedgerCheckView, 'The check') },
});

/**
 * `GET /v1/ledger/balances?currency=` and `GET /v1/ledger/check` (docs/http-api.md "Ledger").
 * A check that finds the ledger unbalanced is reported to `deps.metrics?.ledgerCheckFailed()` and, once per merchant and
 * hour, to the operator as a `ledger.imbalance` operational webhook.
 */
export function ledgerRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(balancesRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listBalances(c.var.deps.sql, c.var.merchant.id, q.currency);
    return c.json({ data: rows.map((r) => ({ account: r.account, currency: r.currency, balance: toJsonAmount(r.balance) })) }, 200);
  });
  app.openapi(checkRoute, async (c) => {
    const { sql, config, clock } = c.var.deps;
    const merchantId = c.var.merchant.id;
    const r = await checkLedger(sql, merchantId);
    const view = ledgerCheckView(r) as LedgerCheckJson;
    if (!r.balanced) {
      c.var.deps.metrics?.ledgerCheckFailed();
      // The operator hears of it (README "Operational webhooks"), once per merchant and hour.
      const at = clock();
      const hour = at.toISOString().slice(0, 13);
      await emitOperatorEvent(sql, config, {
        type: 'ledger.imbalance',
        merchantId,
        dedupeKey: `ledger.imbalance:${merchantId}:${hour}`,
        data: view,
        at,
      });
    }
    return c.json(view, 200);
  });
  return app;
}
