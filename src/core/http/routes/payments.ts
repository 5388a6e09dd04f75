import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { checkLedger, listBalances, listPaymentLedger } from '../../ledger/ledger-store.js';
import { ledgerCheckView } from '../../ledger/ledger-view.js';
import { normalizeCurrency, toJsonAmount } from '../../money.js';
import { getPayment, listPayments, listTransitions, paymentView } from '../../payments/payment-store.js';
import type { AppEnv } from '../env.js';
import { pageQuery, toPage } from '../pagination.js';
import { queryParams } from '../validate.js';

const STATUSES = ['pending', 'authorized', 'captured', 'partially_refunded', 'refunded', 'failed', 'voided', 'disputed', 'charged_back'] as const;

/**
 * `GET /v1/payments`, `/v1/payments/{id}`, `/transitions`, `/ledger` (CONTRACT.md
 * "Payments"). Amounts are integer minor units.
 */
export function paymentRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const q = queryParams(
      c,
      pageQuery.extend({
        status: z.enum(STATUSES).optional(),
        pspReference: z.string().max(255).optional(),
        sourceId: z.string().max(64).optional(),
      }),
    );
    const rows = await listPayments(c.var.deps.sql, c.var.merchant.id, q);
    return c.json(toPage(rows, q.limit, paymentView));
  });

  const load = async (c: { var: AppEnv['Variables'] }, id: string) => {
    const p = await getPayment(c.var.deps.sql, c.var.merchant.id, id);
    if (!p) throw new NotFoundError('Payment');
    return p;
  };

  app.get('/:id', async (c) => c.json(paymentView(await load(c, c.req.param('id')))));

  app.get('/:id/transitions', async (c) => {
    const p = await load(c, c.req.param('id'));
    const rows = await listTransitions(c.var.deps.sql, p.id);
    return c.json({ data: rows.map((t) => ({ ...t, at: t.at.toISOString() })) });
  });

  app.get('/:id/ledger', async (c) => {
    const p = await load(c, c.req.param('id'));
    const txs = await listPaymentLedger(c.var.deps.sql, p.id);
    return c.json({
      data: txs.map((t) => ({
        id: t.id,
        kind: t.kind,
        cause: t.cause,
        createdAt: t.createdAt.toISOString(),
        entries: t.entries.map((e) => ({ ...e, amount: toJsonAmount(e.amount) })),
      })),
    });
  });
  return app;
}

/**
 * `GET /v1/ledger/balances?currency=` and `GET /v1/ledger/check` (CONTRACT.md "Ledger").
 * A check that finds the ledger unbalanced is reported to `deps.metrics?.ledgerCheckFailed()`.
 */
export function ledgerRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/balances', async (c) => {
    const q = queryParams(
      c,
      z.object({
        currency: z
          .string()
          .transform((s, ctx) => normalizeCurrency(s) ?? (ctx.addIssue({ code: 'custom', message: 'a three-letter ISO 4217 code' }), z.NEVER))
          .optional(),
      }),
    );
    const rows = await listBalances(c.var.deps.sql, c.var.merchant.id, q.currency);
    return c.json({ data: rows.map((r) => ({ account: r.account, currency: r.currency, balance: toJsonAmount(r.balance) })) });
  });
  app.get('/check', async (c) => {
    const r = await checkLedger(c.var.deps.sql, c.var.merchant.id);
    if (!r.balanced) c.var.deps.metrics?.ledgerCheckFailed();
    return c.json(ledgerCheckView(r));
  });
  return app;
}
