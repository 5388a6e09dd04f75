// (node) The portal's reconciliation pages: settlement runs with their counts and totals, each run's items by result,
// and the stuck payments; read-only, over the stores /v1/reconciliation reads (README "Reconcile").
import type { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { getRun, listItems, listRuns, listStuckPayments, type RunRow } from '../../reconciliation/reconciliation-store.js';
import { RESULTS } from '../../reconciliation/reconciliation-view.js';
import { parseInput } from './input.js';
import { requireCapability, type PortalEnv } from './session.js';
import { formatMoney, Page, Pager, Status, Time } from './views.js';

const PAGE = 50;
const ITEMS_PAGE = 100;
/** The counts a run shows, in this order. */
const COUNTS = ['lines', 'matched', 'amountMismatch', 'missingInLedger', 'missingInReport', 'duplicate', 'ignored', 'invalid'] as const;

const blankToUndefined = (s: string | undefined) => (s ? s : undefined);

/** Where a `processing` run is: its report not read yet (it has no lines to count), or lines matched out of the report's. */
function Progress(props: { run: RunRow }) {
  if (props.run.status !== 'processing') return null;
  return (
    <span class="muted">
      {props.run.spooled ? ' report queued or being read' : ` ${props.run.lines_done} / ${props.run.lines} lines matched`}
    </span>
  );
}

/** A run's counts as `name n` pairs, the unmatched ones first-class (they are what the merchant resolves). */
function Counts(props: { run: RunRow }) {
  if (props.run.spooled) return <span class="muted">not read yet</span>;
  const counts = props.run.counts ?? {};
  return (
    <span>
      {COUNTS.filter((k) => k === 'lines' || (counts[k] ?? 0) > 0).map((k) => (
        <>
          <span class={k === 'lines' || k === 'matched' || k === 'ignored' ? 'muted' : 'status-failed'}>
            {k} {k === 'lines' ? props.run.lines : (counts[k] ?? 0)}
          </span>{' '}
        </>
      ))}
    </span>
  );
}

/** The rows of the runs table; a table still `processing` refreshes itself through htmx every 5 s. */
function RunRows(props: { runs: RunRow[] }) {
  const processing = props.runs.some((r) => r.status === 'processing');
  return (
    <tbody id="runs" {...(processing ? { 'hx-get': '/portal/reconciliation/runs', 'hx-trigger': 'every 5s', 'hx-swap': 'outerHTML' } : {})}>
      {props.runs.map((r) => (
        <tr>
          <td>
            <a href={`/portal/reconciliation/${r.id}`}>
              <code>{r.id}</code>
            </a>
          </td>
          <td>
            <Status value={r.status} />
            <Progress run={r} />
          </td>
          <td>{r.format}</td>
          <td>{r.payout_id ?? r.batch_number ?? '—'}</td>
          <td>
            <Counts run={r} />
          </td>
          <td>
            <Time at={r.created_at} />
          </td>
        </tr>
      ))}
    </tbody>
  );
}

/**
 * Adds the reconciliation pages to the portal's session router (capability `read`): `GET /reconciliation` (runs,
 * newest first, paged; a `processing` run's progress refreshes by htmx; then the open stuck payments), `GET
 * /reconciliation/runs` (the runs' rows, for that refresh), `GET /reconciliation/{id}` (counts, totals in major units,
 * the error of a failed run, items filtered by result and paged by position).
 */
export function addReconciliationPages(app: Hono<PortalEnv>): void {
  app.get('/reconciliation', async (c) => {
    requireCapability(c, 'read');
    const raw = c.req.query();
    const q = parseInput(
      z.object({
        startingAfter: z
          .string()
          .optional()
          .transform(blankToUndefined)
          .refine((s) => s === undefined || isId('rcn', s), { message: 'must be an id starting rcn_' }),
      }),
      raw,
    );
    const { sql } = c.var.deps;
    const merchantId = c.var.portal.merchantId;
    const [rows, stuck] = await Promise.all([
      listRuns(sql, merchantId, PAGE, q.startingAfter),
      listStuckPayments(sql, merchantId, PAGE, undefined, 'open'),
    ]);
    const shown = rows.slice(0, PAGE);
    return c.html(
      <Page title="Reconciliation" session={c.var.portal} current="/portal/reconciliation">
        <p class="muted">
          Settlement reports uploaded or pulled from your PSPs, matched against the ledger. Every line that is not matched is named here and
          in a <code>reconciliation.mismatch</code> event.
        </p>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th>Format</th>
                <th>Payout / batch</th>
                <th>Counts</th>
                <th>Created</th>
              </tr>
            </thead>
            <RunRows runs={shown} />
          </table>
        </div>
        {shown.length === 0 && <p class="muted">No settlement reports yet.</p>}
        <Pager path="/portal/reconciliation" query={raw} lastId={shown.at(-1)?.id} hasMore={rows.length > PAGE} />
        <h2>Stuck payments</h2>
        <p class="muted">Payments still pending past their source's settling time.</p>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Payment</th>
                <th class="num">Amount</th>
                <th>PSP reference</th>
                <th>Pending since</th>
                <th>What the PSP said</th>
              </tr>
            </thead>
            <tbody>
              {stuck.slice(0, PAGE).map((s) => (
                <tr>
                  <td>
                    <a href={`/portal/payments/${s.payment_id}`}>
                      <code>{s.payment_id}</code>
                    </a>
                  </td>
                  <td class="num">{formatMoney(s.amount, s.currency)}</td>
                  <td>{s.psp_reference}</td>
                  <td>
                    <Time at={s.pending_since} />
                  </td>
                  <td>{s.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {stuck.length === 0 && <p class="muted">No stuck payments.</p>}
      </Page>,
    );
  });

  app.get('/reconciliation/runs', async (c) => {
    requireCapability(c, 'read');
    const rows = await listRuns(c.var.deps.sql, c.var.portal.merchantId, PAGE);
    return c.html(<RunRows runs={rows.slice(0, PAGE)} />);
  });

  app.get('/reconciliation/:id', async (c) => {
    requireCapability(c, 'read');
    const id = c.req.param('id');
    const run = isId('rcn', id) ? await getRun(c.var.deps.sql, c.var.portal.merchantId, id) : undefined;
    if (!run) throw new NotFoundError('Reconciliation run');
    const raw = c.req.query();
    const q = parseInput(
      z.object({
        result: z
          .enum(['', ...RESULTS])
          .optional()
          .transform(blankToUndefined),
        after: z.coerce.number().int().min(0).default(0),
      }),
      raw,
    );
    const items = await listItems(c.var.deps.sql, run.id, ITEMS_PAGE, q.after, q.result);
    const shown = items.slice(0, ITEMS_PAGE);
    const next = new URLSearchParams({ ...(q.result ? { result: q.result } : {}), after: String(shown.at(-1)?.position ?? 0) });
    const amount = (minor: string | null, currency: string | null) =>
      minor === null || currency === null ? '—' : formatMoney(minor, currency);
    return c.html(
      <Page title={`Reconciliation ${run.payout_id ?? run.batch_number ?? run.id}`} session={c.var.portal} current="/portal/reconciliation">
        <div class="box">
          <dl class="props">
            <dt>Id</dt>
            <dd>
              <code>{run.id}</code>
            </dd>
            <dt>Status</dt>
            <dd>
              <Status value={run.status} />
              <Progress run={run} />
            </dd>
            <dt>Source</dt>
            <dd>
              <code>{run.source_id}</code> ({run.format})
            </dd>
            <dt>Period</dt>
            <dd>
              <Time at={run.period_start} /> – <Time at={run.period_end} />
            </dd>
            <dt>Counts</dt>
            <dd>
              <Counts run={run} />
            </dd>
            {run.error && (
              <>
                <dt>Error</dt>
                <dd class="status-failed">{run.error}</dd>
              </>
            )}
          </dl>
        </div>
        <h2>Totals</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Currency</th>
                <th class="num">Gross</th>
                <th class="num">Fee</th>
                <th class="num">Net</th>
              </tr>
            </thead>
            <tbody>
              {(run.totals ?? []).map((t) => (
                <tr>
                  <td>{t.currency}</td>
                  <td class="num">{formatMoney(t.gross, t.currency)}</td>
                  <td class="num">{formatMoney(t.fee, t.currency)}</td>
                  <td class="num">{formatMoney(t.net, t.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h2>Items</h2>
        <form class="filters box" method="get" action={`/portal/reconciliation/${run.id}`}>
          <div class="field">
            <label for="r-result">Result</label>
            <select id="r-result" name="result">
              <option value="">any</option>
              {RESULTS.map((r) => (
                <option value={r} selected={q.result === r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <button type="submit">Filter</button>
          </div>
        </form>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th class="num">Line</th>
                <th>Result</th>
                <th>Type</th>
                <th>PSP reference</th>
                <th>Payment</th>
                <th class="num">Reported gross</th>
                <th class="num">Expected gross</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((i) => (
                <tr>
                  <td class="num">{i.line_no ?? '—'}</td>
                  <td>
                    <Status value={i.result} />
                  </td>
                  <td>{i.psp_type ?? i.category ?? '—'}</td>
                  <td>{i.operation_ref ?? i.payment_ref ?? '—'}</td>
                  <td>{i.payment_id ? <a href={`/portal/payments/${i.payment_id}`}>{i.payment_id}</a> : '—'}</td>
                  <td class="num">{amount(i.gross, i.currency)}</td>
                  <td class="num">{amount(i.expected, i.currency)}</td>
                  <td>{i.detail ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {shown.length === 0 && <p class="muted">No items match.</p>}
        {items.length > ITEMS_PAGE && (
          <p>
            <a href={`/portal/reconciliation/${run.id}?${next}`}>Next page</a>
          </p>
        )}
      </Page>,
    );
  });
}
