// (node) The portal's review queue (README "Risk rules"): reviews by status, approve or reject one. Decisions run as
// `POST /v1/reviews/{id}/approve|reject` do (executePaymentCommand), so a rejection refunds or voids through the PSP.
import type { Hono } from 'hono';
import { z } from 'zod';
import { randomBytes, toHex } from '../../core/crypto.js';
import { AppError, type ErrorCode } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { listReviews, type Review } from '../../core/risk/review-store.js';
import { executePaymentCommand } from '../../payments-api/execute-command.js';
import { parseInput } from './input.js';
import { requireCapability, type PortalEnv } from './session.js';
import { Page, Pager, PostForm, Status, Time } from './views.js';

const PAGE = 50;
const STATUSES = ['open', 'approved', 'rejected'] as const;

function ReviewTable(props: { reviews: Review[]; status: string; hasMore: boolean; csrf: string; canDecide: boolean }) {
  return (
    <div id="review-results">
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Review</th>
              <th>Payment</th>
              <th>Opened by rule</th>
              <th>Status</th>
              <th>Compensation</th>
              <th>Opened</th>
              {props.canDecide && props.status === 'open' && <th>Decision</th>}
            </tr>
          </thead>
          <tbody>
            {props.reviews.map((r) => (
              <tr>
                <td>
                  <code>{r.id}</code>
                </td>
                <td>{r.paymentId ? <a href={`/portal/payments/${r.paymentId}`}>{r.paymentId}</a> : <span class="muted">—</span>}</td>
                <td>{r.openedBy.name}</td>
                <td>
                  <Status value={r.status} />
                </td>
                <td>
                  {r.compensation ?? <span class="muted">—</span>}
                  {r.compensationFailedAt && (
                    <>
                      {' '}
                      <strong>failed</strong> (the PSP refused every retry; refund or void it at the PSP)
                    </>
                  )}
                </td>
                <td>
                  <Time at={r.openedAt} />
                </td>
                {props.canDecide && r.status === 'open' && (
                  <td>
                    {/* each form carries its own Idempotency-Key: a form sent twice decides once */}
                    <PostForm action={`/portal/reviews/${r.id}/approve`} csrf={props.csrf} class="inline">
                      <input type="hidden" name="key" value={toHex(randomBytes(16))} />
                      <button type="submit">Approve</button>
                    </PostForm>
                    <PostForm
                      action={`/portal/reviews/${r.id}/reject`}
                      csrf={props.csrf}
                      class="inline"
                      confirm="Reject: the payment is refunded or voided through the PSP, and its card and customer are blocked."
                    >
                      <input type="hidden" name="key" value={toHex(randomBytes(16))} />
                      <input name="reason" aria-label={`Reason to reject ${r.id}`} required maxlength={500} placeholder="reason" />
                      <button type="submit">Reject</button>
                    </PostForm>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.reviews.length === 0 && <p class="muted">No {props.status} reviews.</p>}
      <Pager path="/portal/reviews" query={{ status: props.status }} lastId={props.reviews.at(-1)?.id} hasMore={props.hasMore} />
    </div>
  );
}

const decisionForm = z.object({
  key: z.string().regex(/^[0-9a-f]{32}$/, 'the form is stale; reload the page'),
  reason: z.string().trim().min(1).max(500).optional(),
});

/**
 * Adds the review pages to the portal's session router: `GET /reviews?status=open|approved|rejected` (capability
 * `read`; paged; an htmx request gets the table only) and `POST /reviews/{id}/approve|reject {reason}` (capability
 * `reviews`). A decision the API refuses (409 `review_closed`, 502 from the PSP, …) is an error page with its detail.
 */
export function addReviewPages(app: Hono<PortalEnv>): void {
  app.get('/reviews', async (c) => {
    requireCapability(c, 'read');
    const q = parseInput(
      z.object({
        status: z.enum(STATUSES).default('open'),
        notice: z.enum(['approved', 'rejected']).optional(),
        startingAfter: z
          .string()
          .refine((s) => isId('rev', s))
          .optional(),
      }),
      c.req.query(),
    );
    const rows = await listReviews(c.var.deps.sql, c.var.portal.merchantId, {
      limit: PAGE,
      status: q.status,
      startingAfter: q.startingAfter,
    });
    const table = (
      <ReviewTable
        reviews={rows.slice(0, PAGE)}
        status={q.status}
        hasMore={rows.length > PAGE}
        csrf={c.var.portal.csrf}
        canDecide={c.var.portal.capabilities.includes('reviews')}
      />
    );
    if (c.req.header('hx-request')) return c.html(table);
    return c.html(
      <Page title="Reviews" session={c.var.portal} current="/portal/reviews">
        {q.notice && (
          <p class="notice" role="status">
            Review {q.notice}.
          </p>
        )}
        <form
          method="get"
          action="/portal/reviews"
          hx-get="/portal/reviews"
          hx-target="#review-results"
          hx-swap="outerHTML"
          hx-push-url="true"
        >
          <label for="review-status">Status</label>{' '}
          <select
            id="review-status"
            name="status"
            hx-get="/portal/reviews"
            hx-target="#review-results"
            hx-swap="outerHTML"
            hx-push-url="true"
          >
            {STATUSES.map((s) => (
              <option value={s} selected={s === q.status}>
                {s}
              </option>
            ))}
          </select>{' '}
          <button type="submit">Show</button>
        </form>
        {table}
      </Page>,
    );
  });

  for (const decision of ['approve', 'reject'] as const) {
    app.post(`/reviews/:id/${decision}`, async (c) => {
      requireCapability(c, 'reviews');
      const id = c.req.param('id');
      if (!isId('rev', id)) throw new AppError('not_found', 404, 'Review was not found.');
      const form = parseInput(decisionForm, await c.req.parseBody());
      if (decision === 'reject' && !form.reason) {
        throw new AppError('invalid_request', 400, 'A rejection needs a reason.');
      }
      const reason = decision === 'reject' ? form.reason : undefined;
      const res = await executePaymentCommand(c.var.deps, {
        merchantId: c.var.portal.merchantId,
        idempotencyKey: `portal:${form.key}`,
        method: 'POST',
        path: `/v1/reviews/${id}/${decision}`,
        params: reason !== undefined ? { reason } : {},
        command: { kind: 'review', reviewId: id, decision, ...(reason !== undefined ? { reason } : {}) },
      });
      if (res.status >= 300) {
        const body = (await res.json()) as { code?: string; detail?: string };
        throw new AppError((body.code ?? 'conflict') as ErrorCode, res.status, body.detail ?? 'The decision was refused.');
      }
      return c.redirect(`/portal/reviews?status=open&notice=${decision === 'approve' ? 'approved' : 'rejected'}`, 303);
    });
  }
}
