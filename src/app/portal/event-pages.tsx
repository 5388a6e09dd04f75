// (node) The portal's event pages: search, an event's payload, messages and attempts, and replay.
import type { Hono } from 'hono';
import { z } from 'zod';
import { AppError, NotFoundError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { getEvent, listAttempts } from '../../outbound/event-store.js';
import { redeliverEvent } from '../../outbound/redeliver.js';
import { parseInput } from './input.js';
import { eventMessages, searchEvents } from './portal-store.js';
import { requireCapability, type PortalEnv } from './session.js';
import { Page, Pager, PostForm, prettyBody, Status, Time } from './views.js';

const PAGE = 50;

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .transform((s) => (s ? s : undefined));
const optionalId = (prefix: 'evt' | 'pay' | 'ep') =>
  z
    .string()
    .trim()
    .optional()
    .transform((s) => (s ? s : undefined))
    .refine((s) => s === undefined || isId(prefix, s), { message: `must be an id starting ${prefix}_` });
// datetime-local inputs carry no zone; the form labels them UTC.
const optionalTime = z
  .string()
  .trim()
  .optional()
  .transform((s) => (s ? s : undefined))
  .refine((s) => s === undefined || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(s), {
    message: 'must be a date and time such as 2026-11-22T09:30',
  })
  .transform((s) => (s === undefined ? undefined : new Date(`${s}Z`)));

const searchQuery = z.object({
  type: optionalText(100),
  paymentId: optionalId('pay'),
  endpointId: optionalId('ep'),
  status: z
    .enum(['', 'pending', 'succeeded', 'failed'])
    .optional()
    .transform((s) => (s ? s : undefined)),
  from: optionalTime,
  to: optionalTime,
  startingAfter: optionalId('evt'),
});

type SearchRow = Awaited<ReturnType<typeof searchEvents>>[number];

function EventTable(props: { rows: SearchRow[]; hasMore: boolean; query: Record<string, string> }) {
  return (
    <div id="event-results">
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Event</th>
              <th>Type</th>
              <th>Payment</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((e) => (
              <tr>
                <td>
                  <a href={`/portal/events/${e.id}`}>
                    <code>{e.id}</code>
                  </a>
                </td>
                <td>{e.type}</td>
                <td>{e.paymentId ? <a href={`/portal/payments/${e.paymentId}`}>{e.paymentId}</a> : <span class="muted">—</span>}</td>
                <td>
                  <Time at={e.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.rows.length === 0 && <p class="muted">No events match.</p>}
      <Pager path="/portal/events" query={props.query} lastId={props.rows.at(-1)?.id} hasMore={props.hasMore} />
    </div>
  );
}

/** The messages and attempts of an event: a section htmx reloads every 3 s while a message is pending. */
async function AttemptsSection(props: { sql: PortalEnv['Variables']['deps']['sql']; eventId: string; csrf: string; canReplay: boolean }) {
  const [messages, attempts] = await Promise.all([eventMessages(props.sql, props.eventId), listAttempts(props.sql, props.eventId)]);
  const pending = messages.some((m) => m.status === 'pending');
  return (
    <section
      id="deliveries"
      aria-live="polite"
      hx-get={pending ? `/portal/events/${props.eventId}/deliveries` : undefined}
      hx-trigger={pending ? 'every 3s' : undefined}
      hx-swap={pending ? 'outerHTML' : undefined}
    >
      <h2>Messages</h2>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Endpoint</th>
              <th>Status</th>
              <th class="num">Attempts</th>
              <th>Next attempt</th>
              {props.canReplay && <th>Replay</th>}
            </tr>
          </thead>
          <tbody>
            {messages.map((m) => (
              <tr>
                <td>
                  <a href={`/portal/endpoints/${m.endpointId}`}>{m.url}</a>
                </td>
                <td>
                  <Status value={m.status} />
                </td>
                <td class="num">{m.attempts}</td>
                <td>
                  <Time at={m.nextAttemptAt} />
                </td>
                {props.canReplay && (
                  <td>
                    <PostForm action={`/portal/events/${props.eventId}/replay`} csrf={props.csrf} class="inline">
                      <input type="hidden" name="endpointId" value={m.endpointId} />
                      <button type="submit" class="secondary" aria-label={`Replay to ${m.url}`}>
                        Replay
                      </button>
                    </PostForm>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {messages.length === 0 && <p class="muted">No endpoint subscribes to this event.</p>}
      <h2>Attempts</h2>
      {attempts.length === 0 ? (
        <p class="muted">No attempt yet.</p>
      ) : (
        <div class="scroll">
          <table class="attempts">
            <thead>
              <tr>
                <th class="num">#</th>
                <th>Endpoint</th>
                <th>Status</th>
                <th class="num">HTTP</th>
                <th class="num">Duration</th>
                <th>Attempted</th>
                <th>Next attempt</th>
                <th>Response body / error</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr>
                  <td class="num">{a.attemptNumber}</td>
                  <td>
                    <code>{a.endpointId}</code>
                  </td>
                  <td>
                    <Status value={a.status} />
                  </td>
                  <td class="num">{a.responseStatus ?? '—'}</td>
                  <td class="num">{a.durationMs} ms</td>
                  <td>
                    <Time at={a.attemptedAt} />
                  </td>
                  <td>
                    <Time at={a.nextAttemptAt} />
                  </td>
                  <td>
                    {a.responseBody !== null && a.responseBody !== '' && <pre class="response-body">{a.responseBody}</pre>}
                    {a.error && <span class="bad">{a.error}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/**
 * Adds the event pages to the portal's session router: `GET /events` (search by type, payment, endpoint, message
 * status, created from/to in UTC; paged; an htmx request gets the results table only), `GET /events/{id}` (payload,
 * messages, attempts; `/events/{id}/deliveries` is that section alone) with capability `read`, and
 * `POST /events/{id}/replay {endpointId?}` (capability `replay`): one more attempt to one endpoint or all, as
 * `POST /v1/events/{id}/redeliver`.
 */
export function addEventPages(app: Hono<PortalEnv>): void {
  app.get('/events', async (c) => {
    requireCapability(c, 'read');
    const raw = c.req.query();
    const q = parseInput(searchQuery, raw);
    const rows = await searchEvents(c.var.deps.sql, c.var.portal.merchantId, { ...q, limit: PAGE });
    const table = <EventTable rows={rows.slice(0, PAGE)} hasMore={rows.length > PAGE} query={raw} />;
    if (c.req.header('hx-request')) return c.html(table);
    const v = (k: string) => raw[k] ?? '';
    return c.html(
      <Page title="Events" session={c.var.portal} current="/portal/events">
        <form
          class="filters box"
          method="get"
          action="/portal/events"
          hx-get="/portal/events"
          hx-target="#event-results"
          hx-swap="outerHTML"
          hx-push-url="true"
        >
          <div class="field">
            <label for="f-type">Type</label>
            <input id="f-type" name="type" type="text" value={v('type')} placeholder="payment.captured" />
          </div>
          <div class="field">
            <label for="f-payment">Payment</label>
            <input id="f-payment" name="paymentId" type="text" value={v('paymentId')} placeholder="pay_…" />
          </div>
          <div class="field">
            <label for="f-endpoint">Endpoint</label>
            <input id="f-endpoint" name="endpointId" type="text" value={v('endpointId')} placeholder="ep_…" />
          </div>
          <div class="field">
            <label for="f-status">Delivery status</label>
            <select id="f-status" name="status">
              {['', 'pending', 'succeeded', 'failed'].map((s) => (
                <option value={s} selected={v('status') === s}>
                  {s || 'any'}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-from">From (UTC)</label>
            <input id="f-from" name="from" type="datetime-local" value={v('from')} />
          </div>
          <div class="field">
            <label for="f-to">To (UTC)</label>
            <input id="f-to" name="to" type="datetime-local" value={v('to')} />
          </div>
          <div class="field">
            <button type="submit">Search</button>
          </div>
        </form>
        {table}
      </Page>,
    );
  });

  /** The merchant's event `id`, or 404 (unknown and another merchant's look the same). */
  const eventOr404 = async (c: { var: PortalEnv['Variables'] }, id: string) => {
    const event = isId('evt', id) ? await getEvent(c.var.deps.sql, c.var.portal.merchantId, id) : undefined;
    if (!event) throw new NotFoundError('Event');
    return event;
  };

  app.get('/events/:id', async (c) => {
    requireCapability(c, 'read');
    const event = await eventOr404(c, c.req.param('id'));
    const canReplay = c.var.portal.capabilities.includes('replay');
    const replayed = c.req.query('replayed');
    return c.html(
      <Page title={`Event ${event.type}`} session={c.var.portal} current="/portal/events">
        {replayed && /^\d+$/.test(replayed) && (
          <div class="notice" role="status">
            Replay queued: {replayed} message(s) get one more attempt.
          </div>
        )}
        <div class="box">
          <dl class="props">
            <dt>Id</dt>
            <dd>
              <code>{event.id}</code>
            </dd>
            <dt>Type</dt>
            <dd>{event.type}</dd>
            <dt>Payment</dt>
            <dd>{event.paymentId ? <a href={`/portal/payments/${event.paymentId}`}>{event.paymentId}</a> : '—'}</dd>
            <dt>Created</dt>
            <dd>
              <Time at={event.createdAt} />
            </dd>
          </dl>
        </div>
        {canReplay && (
          <PostForm action={`/portal/events/${event.id}/replay`} csrf={c.var.portal.csrf} class="actions">
            <button type="submit">Replay to all endpoints</button>
          </PostForm>
        )}
        <h2>Payload</h2>
        <pre class="payload">{prettyBody(event.payload)}</pre>
        <AttemptsSection sql={c.var.deps.sql} eventId={event.id} csrf={c.var.portal.csrf} canReplay={canReplay} />
      </Page>,
    );
  });

  app.get('/events/:id/deliveries', async (c) => {
    requireCapability(c, 'read');
    const event = await eventOr404(c, c.req.param('id'));
    const canReplay = c.var.portal.capabilities.includes('replay');
    return c.html(<AttemptsSection sql={c.var.deps.sql} eventId={event.id} csrf={c.var.portal.csrf} canReplay={canReplay} />);
  });

  app.post('/events/:id/replay', async (c) => {
    requireCapability(c, 'replay');
    const { sql, clock } = c.var.deps;
    const event = await eventOr404(c, c.req.param('id'));
    const form = parseInput(z.object({ endpointId: optionalId('ep') }).passthrough(), await c.req.parseBody());
    const outcome = await sql.begin((tx) =>
      redeliverEvent(tx, {
        merchantId: c.var.portal.merchantId,
        event,
        ...(form.endpointId === undefined ? {} : { endpointId: form.endpointId }),
        at: clock(),
      }),
    );
    if (!outcome.ok) {
      switch (outcome.error) {
        case 'endpoint_not_found':
          throw new NotFoundError('Endpoint');
        case 'not_subscribed':
          throw new AppError('not_found', 404, 'That endpoint has no message for this event and does not subscribe to its type.');
        case 'endpoint_disabled':
          throw new AppError('conflict', 409, 'That endpoint is disabled; enable it before replaying to it.');
      }
    }
    return c.redirect(`/portal/events/${event.id}?replayed=${outcome.value.length}`, 303);
  });
}
