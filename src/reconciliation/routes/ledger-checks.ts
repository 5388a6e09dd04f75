// GET /v1/ledger/checks: the continuous ledger checks of the merchant.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../core/deps.js';
import { createRouter, defineRoute, isoTimestamp, jsonResponse, merchantAuth, pageOf } from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import { listLedgerChecks } from '../ledger-check-store.js';
import { ledgerCheckRunView } from '../ledger-check.task.js';

const LedgerCheckRun = z
  .object({
    id: z.string().openapi({ example: 'lck_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    kind: z.enum(['incremental', 'full']),
    status: z.enum(['passed', 'failed']),
    entries: z.number().int().openapi({ description: 'Entries summed: those since the last checkpoint, or all (full).' }),
    accounts: z.number().int(),
    problems: z.array(z.record(z.string(), z.unknown())).openapi({
      description:
        'What disagreed: `balance_drift` {account, currency, kept, fromEntries}, `currency_unbalanced` {currency, sum}, `transaction_unbalanced` {transactionId}.',
    }),
    startedAt: isoTimestamp(),
    finishedAt: isoTimestamp(),
  })
  .openapi('LedgerCheckRun');
type LedgerCheckRunJson = z.infer<typeof LedgerCheckRun>;

const listRoute = defineRoute({
  method: 'get',
  path: '/checks',
  'x-switchyard-permission': 'ledger:read',
  tags: ['Ledger'],
  summary: 'List the continuous ledger checks, newest first',
  security: merchantAuth,
  request: { query: pageQuery('lck').extend({ status: z.enum(['passed', 'failed']).optional() }) },
  responses: { 200: jsonResponse(pageOf(LedgerCheckRun), 'A page of checks') },
});

/** `GET /v1/ledger/checks?status=&limit=&startingAfter=` (docs/http-api.md "Ledger"). */
export function ledgerCheckRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const rows = await listLedgerChecks(c.var.deps.sql, c.var.merchant.id, q.limit, q.startingAfter, q.status);
    return c.json(
      toPage(rows, q.limit, (r) => ledgerCheckRunView(r) as LedgerCheckRunJson),
      200,
    );
  });
  return app;
}
