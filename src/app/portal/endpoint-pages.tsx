// (node) The portal's endpoint pages: list, create (the secret shown once), edit, enable/disable, rotate the secret,
// send a test event, recover failed messages. The same stores and checks as /v1/endpoints (src/outbound).
import type { Hono } from 'hono';
import { z } from 'zod';
import { randomBytes, toHex } from '../../core/crypto.js';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import { isId } from '../../core/ids.js';
import { rotateEndpointSecret } from '../../outbound/endpoints/endpoint-secrets.js';
import {
  getEndpoint,
  insertEndpoint,
  listEndpoints,
  lockEndpoint,
  resetEndpointHealth,
  updateEndpoint,
  type Endpoint,
} from '../../outbound/endpoints/endpoint-store.js';
import { emitEventToEndpoint, recoverEndpointMessages } from '../../outbound/redeliver.js';
import { createEndpointBody, patchEndpointBody } from '../../outbound/routes/endpoint-schemas.js';
import { allowedUrl } from '../../outbound/routes/endpoints.js';
import { generateEndpointSecret } from '../../outbound/sign.js';
import { searchEvents } from './portal-store.js';
import { parseInput } from './input.js';
import { requireCapability, type PortalEnv } from './session.js';
import { Page, Pager, PostForm, Status, Time } from './views.js';

const PAGE = 50;

/** The text of the `webhook.test` event's `data.message` (as `POST /v1/endpoints/{id}/test`). */
const TEST_EVENT_MESSAGE = 'This is a test webhook from Switchyard. If its signature verified, your endpoint is ready.';

/** Notices a redirect may ask the detail page to show, by code: never text from the query string itself. */
const NOTICES: Record<string, string> = {
  updated: 'Endpoint updated.',
  enabled: 'Endpoint enabled; its failure state was cleared.',
  disabled: 'Endpoint disabled: nothing is sent to it until it is enabled.',
};

/** Form text → the API's body fields: event types split on commas or spaces (empty = every type), numbers parsed. */
function endpointForm(form: Record<string, unknown>, clearing: boolean): Record<string, unknown> {
  const text = (k: string) => (typeof form[k] === 'string' ? (form[k] as string).trim() : undefined);
  const body: Record<string, unknown> = {};
  const url = text('url');
  if (url !== undefined) body.url = url;
  const description = text('description');
  if (description !== undefined) body.description = description === '' ? (clearing ? null : undefined) : description;
  const types = text('eventTypes');
  if (types !== undefined) {
    const list = types.split(/[\s,]+/).filter(Boolean);
    body.eventTypes = list.length === 0 ? (clearing ? null : undefined) : list;
  }
  const rate = text('rateLimitPerSecond');
  if (rate !== undefined) body.rateLimitPerSecond = rate === '' ? (clearing ? null : undefined) : Number(rate);
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

function EndpointFields(props: { endpoint?: Endpoint }) {
  const e = props.endpoint;
  return (
    <>
      <div class="field">
        <label for="ep-url">URL</label>
        <input id="ep-url" name="url" type="url" required maxlength={2048} value={e?.url} placeholder="https://example.com/webhooks" />
      </div>
      <div class="field">
        <label for="ep-types">Event types (comma-separated; empty for every type)</label>
        <input
          id="ep-types"
          name="eventTypes"
          type="text"
          value={e?.eventTypes?.join(', ')}
          placeholder="payment.captured, payment.refunded"
        />
      </div>
      <div class="field">
        <label for="ep-rate">Rate limit (deliveries per second; empty for none)</label>
        <input id="ep-rate" name="rateLimitPerSecond" type="number" min={1} max={10000} value={e?.rateLimitPerSecond ?? undefined} />
      </div>
      <div class="field">
        <label for="ep-desc">Description</label>
        <input id="ep-desc" name="description" type="text" maxlength={500} value={e?.description ?? undefined} />
      </div>
    </>
  );
}

/** The page that shows a signing secret, once: after creation or rotation. */
function SecretPage(props: {
  title: string;
  session: PortalEnv['Variables']['portal'];
  endpoint: Endpoint;
  secret: string;
  warning?: string | undefined;
}) {
  return (
    <Page title={props.title} session={props.session} current="/portal/endpoints">
      <div class="notice" role="status">
        <p>Copy the signing secret now: it is shown once, and never again.</p>
        <p>
          <label for="secret">Signing secret</label>
          <br />
          <code id="secret" class="secret">
            {props.secret}
          </code>
        </p>
      </div>
      {props.warning && <div class="error">{props.warning}</div>}
      <p>
        <a href={`/portal/endpoints/${props.endpoint.id}`}>Go to the endpoint {props.endpoint.url}</a>
      </p>
    </Page>
  );
}

/** The merchant's endpoint `id` (not deleted), or 404: unknown and another merchant's look the same. */
async function endpointOr404(c: { var: PortalEnv['Variables'] }, id: string): Promise<Endpoint> {
  const endpoint = isId('ep', id) ? await getEndpoint(c.var.deps.sql, c.var.portal.merchantId, id) : undefined;
  if (!endpoint) throw new NotFoundError('Endpoint');
  return endpoint;
}

/**
 * Adds the endpoint pages to the portal's session router: `GET /endpoints` (paged) and `GET /endpoints/{id}`
 * (capability `read`); `POST /endpoints` (create), `/endpoints/{id}` (edit), `/endpoints/{id}/enable|disable|rotate|test`
 * (capability `manage_endpoints`) and `/endpoints/{id}/recover` (capability `replay`). Inputs are checked by the
 * API's zod schemas and SSRF check; a refused one is a 400 page.
 */
export function addEndpointPages(app: Hono<PortalEnv>): void {
  app.get('/endpoints', async (c) => {
    requireCapability(c, 'read');
    const q = parseInput(
      z.object({
        startingAfter: z
          .string()
          .refine((s) => isId('ep', s))
          .optional(),
      }),
      c.req.query(),
    );
    const rows = await listEndpoints(c.var.deps.sql, c.var.portal.merchantId, PAGE, q.startingAfter);
    const shown = rows.slice(0, PAGE);
    const canManage = c.var.portal.capabilities.includes('manage_endpoints');
    return c.html(
      <Page title="Endpoints" session={c.var.portal} current="/portal/endpoints">
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>URL</th>
                <th>Status</th>
                <th>Event types</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr>
                  <td>
                    <a href={`/portal/endpoints/${e.id}`}>{e.url}</a>
                  </td>
                  <td>
                    <Status value={e.status} />
                  </td>
                  <td>{e.eventTypes?.join(', ') ?? <span class="muted">every type</span>}</td>
                  <td>
                    <Time at={e.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {shown.length === 0 && <p class="muted">No endpoints yet.</p>}
        <Pager path="/portal/endpoints" query={{}} lastId={shown.at(-1)?.id} hasMore={rows.length > PAGE} />
        {canManage && (
          <div class="box">
            <h2>Add an endpoint</h2>
            <PostForm action="/portal/endpoints" csrf={c.var.portal.csrf}>
              <EndpointFields />
              <button type="submit">Create endpoint</button>
            </PostForm>
          </div>
        )}
      </Page>,
    );
  });

  app.post('/endpoints', async (c) => {
    requireCapability(c, 'manage_endpoints');
    const { sql, secretBox, config } = c.var.deps;
    const body = parseInput(createEndpointBody, endpointForm(await c.req.parseBody(), false));
    const { url, warning } = await allowedUrl(body.url, config);
    const secret = generateEndpointSecret();
    const endpoint = await sql.begin(async (tx) =>
      insertEndpoint(tx, {
        merchantId: c.var.portal.merchantId,
        url,
        description: body.description ?? null,
        eventTypes: body.eventTypes ?? null,
        rateLimitPerSecond: body.rateLimitPerSecond ?? null,
        ordered: body.ordered ?? false,
        secretEnvelope: await secretBox.encrypt(secret),
      }),
    );
    return c.html(
      <SecretPage title="Endpoint created" session={c.var.portal} endpoint={endpoint} secret={secret} warning={warning} />,
      201,
    );
  });

  app.get('/endpoints/:id', async (c) => {
    requireCapability(c, 'read');
    const endpoint = await endpointOr404(c, c.req.param('id'));
    const events = await searchEvents(c.var.deps.sql, c.var.portal.merchantId, { limit: 20, endpointId: endpoint.id });
    const caps = c.var.portal.capabilities;
    const csrf = c.var.portal.csrf;
    const notice = NOTICES[c.req.query('notice') ?? ''];
    const recovered = c.req.query('recovered');
    return c.html(
      <Page title={`Endpoint ${endpoint.url}`} session={c.var.portal} current="/portal/endpoints">
        {notice && (
          <div class="notice" role="status">
            {notice}
          </div>
        )}
        {recovered && /^\d+$/.test(recovered) && (
          <div class="notice" role="status">
            {recovered} failed messages queued again.
          </div>
        )}
        <div class="box">
          <dl class="props">
            <dt>Id</dt>
            <dd>
              <code>{endpoint.id}</code>
            </dd>
            <dt>Status</dt>
            <dd>
              <Status value={endpoint.status} />
            </dd>
            <dt>Event types</dt>
            <dd>{endpoint.eventTypes?.join(', ') ?? 'every type'}</dd>
            <dt>Filter</dt>
            <dd>{endpoint.filter === null ? 'none' : <code>{endpoint.filter}</code>}</dd>
            <dt>Rate limit</dt>
            <dd>{endpoint.rateLimitPerSecond === null ? 'none' : `${endpoint.rateLimitPerSecond} per second`}</dd>
            <dt>Description</dt>
            <dd>{endpoint.description ?? '—'}</dd>
            <dt>Created</dt>
            <dd>
              <Time at={endpoint.createdAt} />
            </dd>
          </dl>
        </div>
        {caps.includes('manage_endpoints') && (
          <div class="actions">
            <PostForm action={`/portal/endpoints/${endpoint.id}/test`} csrf={csrf} class="inline">
              <button type="submit">Send test event</button>
            </PostForm>
            <PostForm
              action={`/portal/endpoints/${endpoint.id}/rotate`}
              csrf={csrf}
              class="inline"
              confirm="Rotate the signing secret? The old one keeps signing for 24 hours."
            >
              <button type="submit" class="secondary">
                Rotate secret
              </button>
            </PostForm>
            {endpoint.status === 'enabled' ? (
              <PostForm action={`/portal/endpoints/${endpoint.id}/disable`} csrf={csrf} class="inline">
                <button type="submit" class="danger">
                  Disable
                </button>
              </PostForm>
            ) : (
              <PostForm action={`/portal/endpoints/${endpoint.id}/enable`} csrf={csrf} class="inline">
                <button type="submit">Enable</button>
              </PostForm>
            )}
          </div>
        )}
        {caps.includes('replay') && (
          <div class="box">
            <h2>Recover failed messages</h2>
            <PostForm action={`/portal/endpoints/${endpoint.id}/recover`} csrf={csrf} class="filters">
              <div class="field">
                <label for="recover-since">Since (UTC)</label>
                <input id="recover-since" name="since" type="datetime-local" required />
              </div>
              <div class="field">
                <button type="submit">Recover failed messages</button>
              </div>
            </PostForm>
          </div>
        )}
        {caps.includes('manage_endpoints') && (
          <div class="box">
            <h2>Edit</h2>
            <PostForm action={`/portal/endpoints/${endpoint.id}`} csrf={csrf}>
              <EndpointFields endpoint={endpoint} />
              <button type="submit">Save changes</button>
            </PostForm>
          </div>
        )}
        <h2>Recent events to this endpoint</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Event</th>
                <th>Type</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {events.slice(0, 20).map((e) => (
                <tr>
                  <td>
                    <a href={`/portal/events/${e.id}`}>
                      <code>{e.id}</code>
                    </a>
                  </td>
                  <td>{e.type}</td>
                  <td>
                    <Time at={e.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p>
          <a href={`/portal/events?endpointId=${endpoint.id}`}>All events to this endpoint</a>
        </p>
      </Page>,
    );
  });

  app.post('/endpoints/:id', async (c) => {
    requireCapability(c, 'manage_endpoints');
    const { sql, config } = c.var.deps;
    const merchantId = c.var.portal.merchantId;
    const before = await endpointOr404(c, c.req.param('id'));
    // The form has no custom headers or receiver auth (set through the API): those stay as they are.
    const { headers: _headers, auth: _auth, ...body } = parseInput(patchEndpointBody, endpointForm(await c.req.parseBody(), true));
    const checked = body.url === undefined ? undefined : await allowedUrl(body.url, config);
    const changes = checked === undefined ? body : { ...body, url: checked.url };
    const after = await sql.begin((tx) => updateEndpoint(tx, merchantId, before.id, changes));
    if (!after) throw new NotFoundError('Endpoint');
    return c.redirect(`/portal/endpoints/${after.id}?notice=updated`, 303);
  });

  for (const status of ['enabled', 'disabled'] as const) {
    app.post(`/endpoints/:id/${status === 'enabled' ? 'enable' : 'disable'}`, async (c) => {
      requireCapability(c, 'manage_endpoints');
      const merchantId = c.var.portal.merchantId;
      const id = (await endpointOr404(c, c.req.param('id'))).id;
      await c.var.deps.sql.begin(async (tx) => {
        const before = await lockEndpoint(tx, merchantId, id);
        if (!before) throw new NotFoundError('Endpoint');
        const after = await updateEndpoint(tx, merchantId, id, { status });
        // As PATCH: re-enabling a disabled endpoint clears its failure state.
        if (before.status === 'disabled' && after?.status === 'enabled') await resetEndpointHealth(tx, id);
      });
      return c.redirect(`/portal/endpoints/${id}?notice=${status}`, 303);
    });
  }

  app.post('/endpoints/:id/rotate', async (c) => {
    requireCapability(c, 'manage_endpoints');
    const { sql, secretBox, clock } = c.var.deps;
    const endpoint = await endpointOr404(c, c.req.param('id'));
    const secret = await sql.begin((tx) =>
      rotateEndpointSecret(tx, secretBox, { merchantId: c.var.portal.merchantId, endpointId: endpoint.id, now: clock() }),
    );
    if (secret === undefined) throw new NotFoundError('Endpoint');
    return c.html(<SecretPage title="Secret rotated" session={c.var.portal} endpoint={endpoint} secret={secret} />);
  });

  app.post('/endpoints/:id/test', async (c) => {
    requireCapability(c, 'manage_endpoints');
    const { sql, clock } = c.var.deps;
    const merchantId = c.var.portal.merchantId;
    const id = (await endpointOr404(c, c.req.param('id'))).id;
    const emitted = await sql.begin(async (tx) => {
      const endpoint = await lockEndpoint(tx, merchantId, id);
      if (!endpoint) throw new NotFoundError('Endpoint');
      if (endpoint.status !== 'enabled')
        throw new AppError('conflict', 409, 'The endpoint is disabled; enable it before sending it a test event.');
      return emitEventToEndpoint(tx, {
        merchantId,
        endpointId: endpoint.id,
        type: 'webhook.test',
        paymentId: null,
        dedupeKey: `webhook.test:${endpoint.id}:${toHex(randomBytes(16))}`,
        data: { endpointId: endpoint.id, message: TEST_EVENT_MESSAGE },
        at: clock(),
      });
    });
    if (!emitted) throw new Error('webhook.test dedupe key collided');
    return c.redirect(`/portal/events/${emitted.eventId}`, 303);
  });

  app.post('/endpoints/:id/recover', async (c) => {
    requireCapability(c, 'replay');
    const { sql, clock } = c.var.deps;
    const id = (await endpointOr404(c, c.req.param('id'))).id;
    const form = parseInput(
      z.object({ since: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, 'a date and time such as 2026-11-22T09:30') }),
      await c.req.parseBody(),
    );
    const since = new Date(`${form.since}Z`);
    const now = clock();
    if (Number.isNaN(since.getTime()) || since > now) {
      throw new ValidationError(
        [{ path: ['since'], message: 'must be a real time, not in the future' }],
        'Some of what you entered is not valid.',
      );
    }
    const outcome = await sql.begin((tx) =>
      recoverEndpointMessages(tx, { merchantId: c.var.portal.merchantId, endpointId: id, since, at: now }),
    );
    if (!outcome.ok) {
      if (outcome.error === 'endpoint_disabled')
        throw new AppError('conflict', 409, 'The endpoint is disabled; enable it before recovering its messages.');
      throw new NotFoundError('Endpoint');
    }
    return c.redirect(`/portal/endpoints/${id}?recovered=${outcome.value}`, 303);
  });
}
