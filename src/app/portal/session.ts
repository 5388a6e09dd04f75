// (node) Portal sessions: the cookie, the session and capability checks, CSRF, and the failed-login limit.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { timingSafeEqualStrings } from '../../core/auth/api-keys.js';
import { randomBytes, sha256Hex, toBase64Url } from '../../core/crypto.js';
import type { AppEnv } from '../../core/deps.js';
import { AppError } from '../../core/errors.js';
import { findSession, type Capability, type PortalSession } from './portal-store.js';

/** Every capability: what an API-key login gets. */
export const ALL_CAPABILITIES: Capability[] = ['read', 'manage_endpoints', 'replay', 'reviews'];
/** An API-key login's session lifetime, seconds (12 h). */
export const LOGIN_SESSION_SECONDS = 12 * 60 * 60;
/** Failed logins allowed per client address per {@link LOGIN_WINDOW_SECONDS}; the next is 429. */
export const LOGIN_FAILURES_ALLOWED = 10;
/** The failed-login window, seconds. */
export const LOGIN_WINDOW_SECONDS = 60;

const COOKIE = 'switchyard_portal';

/** Hono's environment for portal routes: the app's, plus the session (absent on the login and link pages). */
export interface PortalEnv extends AppEnv {
  Variables: AppEnv['Variables'] & { portal: PortalSession & { csrf: string; tokenHash: string } };
}

/** A new session or link token: 32 random bytes, base64url (43 characters); only its SHA-256 hex is stored. */
export function newPortalToken(): string {
  return toBase64Url(randomBytes(32));
}

/** The CSRF token of a session token: derived from it, so it needs no storage, and not from its stored hash. */
function csrfFor(token: string): Promise<string> {
  return sha256Hex(`switchyard-portal-csrf:${token}`);
}

/** Loopback hosts, where the cookie cannot be Secure over plain http. */
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Sets the session cookie: httpOnly, SameSite=Strict, path /portal, Secure unless the request came to a loopback host. */
export function setSessionCookie(c: Context, token: string, expiresAt: Date): void {
  const host = new URL(c.req.url).hostname;
  setCookie(c, COOKIE, token, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: !LOCAL_HOSTS.has(host),
    path: '/portal',
    expires: expiresAt,
  });
}

/** Clears the session cookie (its session is ended server-side by the caller). */
export function clearSessionCookie(c: Context): void {
  const host = new URL(c.req.url).hostname;
  setCookie(c, COOKIE, '', { httpOnly: true, sameSite: 'Strict', secure: !LOCAL_HOSTS.has(host), path: '/portal', maxAge: 0 });
}

/** The session cookie's token, if any. */
export function sessionToken(c: Context): string | undefined {
  return getCookie(c, COOKIE) || undefined;
}

/** Address lists built from SWITCHYARD_TRUSTED_PROXIES, one per parsed config (the array is the key). */
const proxyLists = new WeakMap<readonly string[], BlockList>();

function proxyList(entries: readonly string[]): BlockList {
  let list = proxyLists.get(entries);
  if (!list) {
    list = new BlockList();
    for (const entry of entries) {
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const type = isIPv6(address) ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(address, type);
      else list.addSubnet(address, Number(bits), type);
    }
    proxyLists.set(entries, list);
  }
  return list;
}

function isListed(list: BlockList, address: string): boolean {
  // Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d.
  const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(plain)) return list.check(plain, 'ipv4');
  return isIPv6(plain) && list.check(plain, 'ipv6');
}

/**
 * The client's address given the socket's peer `socket`, the request's `X-Forwarded-For` and the trusted proxies
 * (SWITCHYARD_TRUSTED_PROXIES, IPs or CIDR ranges): the peer itself unless it is a trusted proxy; then the header's
 * last entry that is not a trusted proxy (entries left of it are the client's to forge), or its first when all are.
 */
export function forwardedClient(socket: string, forwardedFor: string | undefined, proxies: readonly string[] | undefined): string {
  if (!proxies || proxies.length === 0) return socket;
  const list = proxyList(proxies);
  if (!isListed(list, socket)) return socket;
  const hops = (forwardedFor ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) if (!isListed(list, hops[i]!)) return hops[i]!.slice(0, 100);
  return hops[0]?.slice(0, 100) ?? socket;
}

/**
 * The client's address: the socket's (`unknown` without a Node socket, as under `app.request`), or, when the socket is
 * one of SWITCHYARD_TRUSTED_PROXIES, the address that proxy put in `X-Forwarded-For` ({@link forwardedClient}).
 */
export function clientAddress(c: Context): string {
  let socket: string;
  try {
    socket = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
  const deps = (c.var as Partial<AppEnv['Variables']>).deps;
  return forwardedClient(socket, c.req.header('x-forwarded-for'), deps?.config.SWITCHYARD_TRUSTED_PROXIES);
}

/**
 * Whether a POST's `Origin` (sent by browsers) names this host: the request's own, or SWITCHYARD_PUBLIC_URL's. Hosts,
 * not origins, are compared: behind a proxy that ends TLS the request arrives as http for an https page. No `Origin`
 * (an older browser, a script) passes; the CSRF token still guards sessions.
 */
export function fromThisSite(c: Context<PortalEnv>): boolean {
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const publicUrl = c.var.deps.config.SWITCHYARD_PUBLIC_URL;
  return host === new URL(c.req.url).host || (publicUrl !== undefined && host === new URL(publicUrl).host);
}

/**
 * Requires a live session: sets `c.var.portal` (merchant, capabilities, CSRF token); without one, a GET is redirected
 * to `/portal/login` and anything else is 401. A POST must carry the session's CSRF token (form field `_csrf` or header
 * `x-csrf-token`) and pass {@link fromThisSite}; else 403.
 */
export function requireSession(): MiddlewareHandler<PortalEnv> {
  return async (c, next) => {
    const token = sessionToken(c);
    const { sql, clock } = c.var.deps;
    const tokenHash = token ? await sha256Hex(token) : undefined;
    const session = tokenHash ? await findSession(sql, tokenHash, clock()) : undefined;
    if (!token || !tokenHash || !session) {
      if (c.req.method === 'GET' || c.req.method === 'HEAD') {
        if (c.req.header('hx-request')) {
          c.header('hx-redirect', '/portal/login');
          return c.body(null, 401);
        }
        return c.redirect('/portal/login', 303);
      }
      throw new AppError('unauthorized', 401, 'Your portal session has ended. Log in again.');
    }
    const csrf = await csrfFor(token);
    c.set('portal', { ...session, csrf, tokenHash });
    c.set('auditActor', { type: 'portal_session', id: await portalSessionId(tokenHash), prefix: null, merchantId: session.merchantId });
    if (c.req.method === 'POST') {
      if (!fromThisSite(c)) throw new AppError('unauthorized', 403, 'This form was sent from another site.');
      let sent = c.req.header('x-csrf-token');
      if (sent === undefined && (c.req.header('content-type') ?? '').match(/^(application\/x-www-form-urlencoded|multipart\/form-data)/)) {
        const form = await c.req.parseBody();
        sent = typeof form._csrf === 'string' ? form._csrf : undefined;
      }
      if (sent === undefined || !(await timingSafeEqualStrings(sent, csrf))) {
        throw new AppError('unauthorized', 403, 'The form is out of date (CSRF token missing or wrong). Reload the page and try again.');
      }
    }
    await next();
  };
}

/** A session's id in the audit log: `pss_` + 24 hex digits derived from its token hash (neither the token nor the hash). */
export async function portalSessionId(tokenHash: string): Promise<string> {
  return `pss_${(await sha256Hex(`switchyard-portal-audit:${tokenHash}`)).slice(0, 24)}`;
}

/** Throws 403 unless the session has `capability` (the page says which one it lacks). */
export function requireCapability(c: Context<PortalEnv>, capability: Capability): void {
  if (!c.var.portal.capabilities.includes(capability)) {
    throw new AppError('unauthorized', 403, `This portal session cannot do that: it lacks the "${capability}" capability.`);
  }
}
