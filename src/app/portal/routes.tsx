// (node) The merchant portal at /portal (README "The portal"): server-rendered pages over the stores the API reads.
import { Hono, type Context } from 'hono';
import { hashApiKey } from '../../core/auth/api-keys.js';
import { sha256Hex } from '../../core/crypto.js';
import { AppError } from '../../core/errors.js';
import { findApiKeyByHash } from '../../core/auth/api-key-store.js';
import { allows } from '../../core/auth/permissions.js';
import { addAssetRoutes } from './assets.js';
import { addEndpointPages } from './endpoint-pages.js';
import { addEventPages } from './event-pages.js';
import { addMoneyPages } from './money-pages.js';
import { addReconciliationPages } from './reconciliation-pages.js';
import { addOverviewPage } from './overview-page.js';
import { addReviewPages } from './review-pages.js';
import { endSession, insertPortalSession, recentLoginFailures, recordLoginFailure, useLink } from './portal-store.js';
import {
  ALL_CAPABILITIES,
  clearSessionCookie,
  clientAddress,
  fromThisSite,
  LOGIN_FAILURES_ALLOWED,
  LOGIN_SESSION_SECONDS,
  LOGIN_WINDOW_SECONDS,
  newPortalToken,
  portalSessionId,
  requireSession,
  sessionToken,
  setSessionCookie,
  type PortalEnv,
} from './session.js';
import { Page } from './views.js';

/**
 * The portal's Content-Security-Policy: scripts and styles only from this origin (no inline script), no frames,
 * forms only to this origin. uPlot sizes its canvas through the CSSOM, which `style-src` does not restrict.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The error page for `err`: its status and detail for an AppError (404 for another merchant's object), else 500. */
function errorPage(err: Error, c: Context<PortalEnv>) {
  const known = err instanceof AppError;
  if (!known) c.var.log.error({ err }, 'portal request failed');
  const status = known ? err.status : 500;
  if (status === 401 && !c.get('portal')) {
    c.header('hx-redirect', '/portal/login');
  }
  const title =
    status === 404
      ? 'Not found'
      : status === 403
        ? 'Not allowed'
        : status === 400
          ? 'Not valid'
          : status === 401
            ? 'Logged out'
            : 'Something went wrong';
  return c.html(
    <Page title={title} session={c.get('portal')}>
      <div class="error" role="alert">
        <p>
          {known
            ? err.message
            : 'The portal could not load this page. Try again; if it keeps failing, ask your operator to check the logs.'}
        </p>
        {known && err.errors && (
          <ul>
            {err.errors.map((i) => (
              <li>
                <code>{i.path.join('.')}</code>: {i.message}
              </li>
            ))}
          </ul>
        )}
      </div>
      <p>{status === 401 ? <a href="/portal/login">Log in</a> : <a href="/portal">Back to the overview</a>}</p>
    </Page>,
    status as 400,
  );
}

function LoginPage(props: { error?: string }) {
  return (
    <Page title="Log in">
      <div class="box login">
        {props.error && (
          <div class="error" role="alert">
            {props.error}
          </div>
        )}
        <form method="post" action="/portal/login">
          <div class="field">
            <label for="api-key">API key</label>
            <input id="api-key" name="apiKey" type="password" autocomplete="off" required maxlength={200} />
          </div>
          <button type="submit">Log in</button>
        </form>
        <p class="muted">Your key stays on this server: the portal keeps a session for 12 hours, and Log out ends it.</p>
      </div>
    </Page>
  );
}

/**
 * The portal router, mounted at `/portal` on the Node app: the login and portal-link pages, then every page behind
 * {@link requireSession}. Each response carries the CSP above, `x-frame-options: DENY`, `referrer-policy: same-origin`
 * and `cache-control: no-store` (assets: a year, immutable). Errors render as pages: 400 (bad input), 401, 403 (a
 * capability missing, a CSRF token wrong), 404 (unknown, or another merchant's), 429 (too many failed logins).
 */
export function portalRoutes(): Hono<PortalEnv> {
  const app = new Hono<PortalEnv>();
  app.onError(errorPage);
  app.use('*', async (c, next) => {
    await next();
    c.header('content-security-policy', CSP);
    c.header('x-frame-options', 'DENY');
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'same-origin');
    if (!c.res.headers.has('cache-control')) c.header('cache-control', 'no-store');
  });
  addAssetRoutes(app);

  app.get('/login', (c) => c.html(<LoginPage />));

  // Login and link forms carry no CSRF token (there is no session yet); a POST from another site is refused.
  app.post('/login', async (c) => {
    if (!fromThisSite(c)) throw new AppError('unauthorized', 403, 'This form was sent from another site.');
    const { sql, clock } = c.var.deps;
    const now = clock();
    const address = clientAddress(c);
    const windowStart = new Date(now.getTime() - LOGIN_WINDOW_SECONDS * 1000);
    const failures = await recentLoginFailures(sql, address, windowStart);
    if (failures.count >= LOGIN_FAILURES_ALLOWED && failures.oldest) {
      const retryAfter = Math.max(1, Math.ceil((failures.oldest.getTime() + LOGIN_WINDOW_SECONDS * 1000 - now.getTime()) / 1000));
      c.header('retry-after', String(retryAfter));
      return c.html(<LoginPage error={`Too many failed logins from your address. Try again in ${retryAfter} seconds.`} />, 429);
    }
    const form = await c.req.parseBody();
    const key = typeof form.apiKey === 'string' ? form.apiKey.trim() : '';
    const found = key && key.length <= 200 ? await findApiKeyByHash(sql, await hashApiKey(key)) : undefined;
    const usable = found && found.revokedAt === null && (found.expiresAt === null || found.expiresAt > now) ? found : undefined;
    if (usable) c.set('auditActor', { type: 'api_key', id: usable.id, prefix: usable.prefix, merchantId: usable.merchantId });
    // A restricted key needs `portal`: read for a session that only reads, write for every capability.
    if (usable && !allows(usable.permissions, 'portal:read')) {
      return c.html(<LoginPage error="That API key has no portal permission (it needs portal: read or write)." />, 403);
    }
    const merchant = usable ? { id: usable.merchantId } : undefined;
    if (!merchant || !usable) {
      await recordLoginFailure(sql, address, now, windowStart);
      // The address and nothing of the key: not even its prefix.
      c.var.log.warn({ clientAddress: address, failuresInWindow: failures.count + 1 }, 'portal login failed');
      return c.html(<LoginPage error="That API key is not valid." />, 401);
    }
    const token = newPortalToken();
    // The session ends by the key's expiry at the latest.
    const sessionEnd = now.getTime() + LOGIN_SESSION_SECONDS * 1000;
    const expiresAt = new Date(usable.expiresAt === null ? sessionEnd : Math.min(sessionEnd, usable.expiresAt.getTime()));
    await insertPortalSession(sql, {
      tokenHash: await sha256Hex(token),
      kind: 'session',
      merchantId: merchant.id,
      capabilities: allows(usable.permissions, 'portal:write') ? ALL_CAPABILITIES : ['read'],
      createdAt: now,
      expiresAt,
      apiKeyId: usable.id,
    });
    c.var.log.info({ merchantId: merchant.id }, 'portal login');
    setSessionCookie(c, token, expiresAt);
    return c.redirect('/portal', 303);
  });

  // A portal link opens a page with a button rather than signing in on GET: link previewers fetch URLs, and the
  // one-time token would be spent before the person clicks. The POST also comes from this site, so the
  // SameSite=Strict cookie it sets is sent on the redirect that follows.
  app.get('/sessions/:token', (c) =>
    c.html(
      <Page title="Open the portal">
        <div class="box login">
          <p>This link opens the Switchyard portal once. It signs this browser in until the link expires.</p>
          <form method="post" action={`/portal/sessions/${encodeURIComponent(c.req.param('token'))}`}>
            <button type="submit">Open the portal</button>
          </form>
        </div>
      </Page>,
    ),
  );

  app.post('/sessions/:token', async (c) => {
    if (!fromThisSite(c)) throw new AppError('unauthorized', 403, 'This form was sent from another site.');
    const { sql, clock } = c.var.deps;
    const now = clock();
    const link = await useLink(sql, await sha256Hex(c.req.param('token')), now);
    if (!link)
      throw new AppError(
        'not_found',
        404,
        'This portal link is not valid: it was used already, has expired, or never existed. Ask for a new one.',
      );
    const token = newPortalToken();
    const tokenHash = await sha256Hex(token);
    c.set('auditActor', { type: 'portal_session', id: await portalSessionId(tokenHash), prefix: null, merchantId: link.merchantId });
    await insertPortalSession(sql, {
      tokenHash,
      kind: 'session',
      merchantId: link.merchantId,
      capabilities: link.capabilities,
      createdAt: now,
      expiresAt: link.expiresAt,
      apiKeyId: link.apiKeyId,
    });
    setSessionCookie(c, token, link.expiresAt);
    return c.redirect('/portal', 303);
  });

  const pages = new Hono<PortalEnv>();
  pages.use('*', requireSession());
  pages.post('/logout', async (c) => {
    const token = sessionToken(c);
    if (token) await endSession(c.var.deps.sql, await sha256Hex(token), c.var.deps.clock());
    clearSessionCookie(c);
    return c.redirect('/portal/login', 303);
  });
  addOverviewPage(pages);
  addEndpointPages(pages);
  addEventPages(pages);
  addMoneyPages(pages);
  addReconciliationPages(pages);
  addReviewPages(pages);
  pages.all('*', () => {
    throw new AppError('not_found', 404, 'There is no such page in the portal.');
  });
  app.route('/', pages);
  return app;
}
