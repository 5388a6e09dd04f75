// (node) The portal's payment, inbound-event and ledger pages: read-only, over the stores /v1 reads.
import type { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { checkLedger, listBalances, listPaymentLedger } from '../../core/ledger/ledger-store.js';
import { getPayment, listPayments, listTransitions } from '../../core/payments/payment-store.js';
import { getInboundEvent, listInboundEvents } from '../../inbound/inbound-event-store.js';
import { parseInput } from './input.js';
import { searchEvents } from './portal-store.js';
import { requireCapability, type PortalEnv } from './session.js';
import { formatMoney, Page, Pager, prettyBody, Status, Time } from './views.js';

const PAGE = 50;
const PAYMENT_STATUSES = [
  'pending',
  'authorized',
  'captured',
  'partially_refunded',
  'refunded',
  'failed',
  'voided',
  'disputed',
  'charged_back',
] as const;
const INBOUND_STATUSES = ['received', 'processed', 'ignored', 'failed'] as const;

const blankToUndefined = (s: string | undefined) => (s ? s : undefined);
const cursor = (prefix: 'pay' | 'iev') =>
  z
    .string()
    .optional()
    .transform(blankToUndefined)
    .refine((s) => s === undefined || isId(prefix, s), { message: `must be an id starting ${prefix}_` });

/** A select of `values` (plus "any") named `name`, labelled `label`, with `current` chosen. */
function StatusSelect(props: { id: string; label: string; values: readonly string[]; current: string | undefined }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name="status">
        <option value="">any</option>
        {props.values.map((s) => (
          <option value={s} selected={props.current === s}>
            {s}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * Adds the read-only pages to the portal's session router (capability `read`): `GET /payments` (filter by status and
 * PSP reference; paged), `GET /payments/{id}` (amounts in major units, operations, transitions as a timeline, ledger
 * entries, events), `GET /inbound-events` (filter by status; paged), `GET /inbound-events/{id}` (headers and raw
 * body as received), `GET /ledger` (balances per currency and a check of the journal run now).
 */
export function addMoneyPages(app: Hono<PortalEnv>): void {
  app.get('/payments', async (c) => {
    requireCapability(c, 'read');
    const raw = c.req.query();
    const q = parseInput(
      z.object({
        status: z
          .enum(['', ...PAYMENT_STATUSES])
          .optional()
          .transform(blankToUndefined),
        pspReference: z.string().trim().max(255).optional().transform(blankToUndefined),
        startingAfter: cursor('pay'),
      }),
      raw,
    );
    const rows = await listPayments(c.var.deps.sql, c.var.portal.merchantId, { ...q, limit: PAGE });
    const shown = rows.slice(0, PAGE);
    return c.html(
      <Page title="Payments" session={c.var.portal} current="/portal/payments">
        <form class="filters box" method="get" action="/portal/payments">
          <StatusSelect id="p-status" label="Status" values={PAYMENT_STATUSES} current={q.status} />
          <div class="field">
            <label for="p-ref">PSP reference</label>
            <input id="p-ref" name="pspReference" type="text" value={raw.pspReference ?? ''} />
          </div>
          <div class="field">
            <button type="submit">Filter</button>
          </div>
        </form>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Payment</th>
                <th>Status</th>
                <th class="num">Amount</th>
                <th class="num">Captured</th>
                <th class="num">Refunded</th>
                <th>PSP reference</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((p) => (
                <tr>
                  <td>
                    <a href={`/portal/payments/${p.id}`}>
                      <code>{p.id}</code>
                    </a>
                  </td>
                  <td>
                    <Status value={p.status} />
                  </td>
                  <td class="num">{formatMoney(p.amount, p.currency)}</td>
                  <td class="num">{formatMoney(p.capturedAmount, p.currency)}</td>
                  <td class="num">{formatMoney(p.refundedAmount, p.currency)}</td>
                  <td>{p.pspReference}</td>
                  <td>
                    <Time at={p.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {shown.length === 0 && <p class="muted">No payments match.</p>}
        <Pager path="/portal/payments" query={raw} lastId={shown.at(-1)?.id} hasMore={rows.length > PAGE} />
      </Page>,
    );
  });

  app.get('/payments/:id', async (c) => {
    requireCapability(c, 'read');
    const { sql } = c.var.deps;
    const id = c.req.param('id');
    const payment = isId('pay', id) ? await getPayment(sql, c.var.portal.merchantId, id) : undefined;
    if (!payment) throw new NotFoundError('Payment');
    const [transitions, ledger, events] = await Promise.all([
      listTransitions(sql, payment.id),
      listPaymentLedger(sql, payment.id),
      searchEvents(sql, c.var.portal.merchantId, { limit: 50, paymentId: payment.id }),
    ]);
    const money = (m: Parameters<typeof formatMoney>[0]) => formatMoney(m, payment.currency);
    return c.html(
      <Page title={`Payment ${payment.pspReference}`} session={c.var.portal} current="/portal/payments">
        <div class="box">
          <dl class="props">
            <dt>Id</dt>
            <dd>
              <code>{payment.id}</code>
            </dd>
            <dt>Status</dt>
            <dd>
              <Status value={payment.status} />
            </dd>
            <dt>Amount</dt>
            <dd>{money(payment.amount)}</dd>
            <dt>Captured</dt>
            <dd>{money(payment.capturedAmount)}</dd>
            <dt>Refunded</dt>
            <dd>{money(payment.refundedAmount)}</dd>
            <dt>Charged back</dt>
            <dd>{money(payment.chargedBackAmount)}</dd>
            <dt>PSP reference</dt>
            <dd>{payment.pspReference}</dd>
            <dt>Your reference</dt>
            <dd>{payment.merchantReference ?? '—'}</dd>
            <dt>Source</dt>
            <dd>
              <code>{payment.sourceId}</code>
            </dd>
          </dl>
        </div>
        <h2>Transitions</h2>
        <ol class="timeline">
          {transitions.map((t) => (
            <li>
              <Time at={t.at} /> — {t.from ?? 'new'} → <Status value={t.to} /> <span class="muted">({t.cause})</span>
            </li>
          ))}
        </ol>
        <h2>Operations</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Kind</th>
                <th>Reference</th>
                <th>Outcome</th>
                <th class="num">Amount</th>
                <th>Reported</th>
              </tr>
            </thead>
            <tbody>
              {payment.operations.map((o) => (
                <tr>
                  <td>{o.kind}</td>
                  <td>{o.reference}</td>
                  <td>
                    <Status value={o.outcome} />
                  </td>
                  <td class="num">{o.amount === null ? '—' : money(o.amount)}</td>
                  <td>
                    <Time at={o.at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h2>Ledger entries</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Transaction</th>
                <th>Account</th>
                <th class="num">Debit</th>
                <th class="num">Credit</th>
              </tr>
            </thead>
            <tbody>
              {ledger.flatMap((t) =>
                t.entries.map((e, i) => (
                  <tr>
                    <td>{i === 0 ? `${t.kind} (${t.cause})` : ''}</td>
                    <td>
                      <code>{e.account}</code>
                    </td>
                    <td class="num">{e.direction === 'debit' ? formatMoney(e.amount, e.currency) : ''}</td>
                    <td class="num">{e.direction === 'credit' ? formatMoney(e.amount, e.currency) : ''}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
        {ledger.length === 0 && <p class="muted">Nothing posted to the ledger for this payment.</p>}
        <h2>Events</h2>
        <ul>
          {events.map((e) => (
            <li>
              <a href={`/portal/events/${e.id}`}>{e.type}</a> <Time at={e.createdAt} />
            </li>
          ))}
        </ul>
      </Page>,
    );
  });

  app.get('/inbound-events', async (c) => {
    requireCapability(c, 'read');
    const raw = c.req.query();
    const q = parseInput(
      z.object({
        status: z
          .enum(['', ...INBOUND_STATUSES])
          .optional()
          .transform(blankToUndefined),
        startingAfter: cursor('iev'),
      }),
      raw,
    );
    const rows = await listInboundEvents(c.var.deps.sql, c.var.portal.merchantId, { ...q, limit: PAGE });
    const shown = rows.slice(0, PAGE);
    return c.html(
      <Page title="Inbound events" session={c.var.portal} current="/portal/inbound-events">
        <p class="muted">
          What your PSPs sent, byte for byte. Every event here passed its signature check on arrival: a request that fails verification is
          answered 401 and not stored.
        </p>
        <form class="filters box" method="get" action="/portal/inbound-events">
          <StatusSelect id="i-status" label="Processing status" values={INBOUND_STATUSES} current={q.status} />
          <div class="field">
            <button type="submit">Filter</button>
          </div>
        </form>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Inbound event</th>
                <th>PSP event</th>
                <th>Type</th>
                <th>Status</th>
                <th>Payment</th>
                <th>Received</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr>
                  <td>
                    <a href={`/portal/inbound-events/${e.id}`}>
                      <code>{e.id}</code>
                    </a>
                  </td>
                  <td>{e.eventId}</td>
                  <td>{e.eventType ?? '—'}</td>
                  <td>
                    <Status value={e.status} />
                    {e.stale && <span class="muted"> (stale)</span>}
                  </td>
                  <td>{e.paymentId ? <a href={`/portal/payments/${e.paymentId}`}>{e.paymentId}</a> : '—'}</td>
                  <td>
                    <Time at={e.receivedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {shown.length === 0 && <p class="muted">No inbound events match.</p>}
        <Pager path="/portal/inbound-events" query={raw} lastId={shown.at(-1)?.id} hasMore={rows.length > PAGE} />
      </Page>,
    );
  });

  app.get('/inbound-events/:id', async (c) => {
    requireCapability(c, 'read');
    const id = c.req.param('id');
    const e = isId('iev', id) ? await getInboundEvent(c.var.deps.sql, c.var.portal.merchantId, id) : undefined;
    if (!e) throw new NotFoundError('Inbound event');
    return c.html(
      <Page title={`Inbound event ${e.eventId}`} session={c.var.portal} current="/portal/inbound-events">
        <div class="box">
          <dl class="props">
            <dt>Id</dt>
            <dd>
              <code>{e.id}</code>
            </dd>
            <dt>Source</dt>
            <dd>
              <code>{e.sourceId}</code>
            </dd>
            <dt>Verification</dt>
            <dd class="ok">signature verified on arrival</dd>
            <dt>Processing</dt>
            <dd>
              <Status value={e.status} />
              {e.stale && ' (stale: it changed nothing)'}
              {e.error && <span class="bad"> {e.error}</span>}
            </dd>
            <dt>Payment</dt>
            <dd>{e.paymentId ? <a href={`/portal/payments/${e.paymentId}`}>{e.paymentId}</a> : '—'}</dd>
            <dt>Received</dt>
            <dd>
              <Time at={e.receivedAt} />
            </dd>
            <dt>Processed</dt>
            <dd>
              <Time at={e.processedAt} />
            </dd>
          </dl>
        </div>
        <h2>Headers</h2>
        <pre>{JSON.stringify(e.headers, null, 2)}</pre>
        <h2>Raw body</h2>
        <pre class="payload">{prettyBody(e.rawBody)}</pre>
      </Page>,
    );
  });

  app.get('/ledger', async (c) => {
    requireCapability(c, 'read');
    const { sql } = c.var.deps;
    const [balances, check] = await Promise.all([listBalances(sql, c.var.portal.merchantId), checkLedger(sql, c.var.portal.merchantId)]);
    return c.html(
      <Page title="Ledger" session={c.var.portal} current="/portal/ledger">
        <div class={check.balanced ? 'notice' : 'error'} role="status">
          {check.balanced
            ? 'Ledger check passed just now: debits equal credits in every currency and transaction, and every balance equals the sum of its entries.'
            : `Ledger check FAILED just now: ${check.unbalancedTransactions.length} unbalanced transaction(s), ${check.driftedAccounts.length} account(s) whose balance differs from their entries.`}
        </div>
        <h2>Totals per currency</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Currency</th>
                <th class="num">Debits</th>
                <th class="num">Credits</th>
              </tr>
            </thead>
            <tbody>
              {check.currencies.map((r) => (
                <tr>
                  <td>{r.currency}</td>
                  <td class="num">{formatMoney(r.debits, r.currency)}</td>
                  <td class="num">{formatMoney(r.credits, r.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h2>Balances</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Account</th>
                <th>Currency</th>
                <th class="num">Balance (debit-positive)</th>
              </tr>
            </thead>
            <tbody>
              {balances.map((b) => (
                <tr>
                  <td>
                    <code>{b.account}</code>
                  </td>
                  <td>{b.currency}</td>
                  <td class="num">{formatMoney(b.balance, b.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {balances.length === 0 && <p class="muted">No ledger accounts yet.</p>}
      </Page>,
    );
  });
}
