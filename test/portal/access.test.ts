// Portal access without a browser (README "The portal", docs/http-api.md "Portal"): the portal-link API, one-time and
// expiring links, session expiry and logout, the cookie's flags, CSRF and Origin checks, capabilities, the
// failed-login limit and its log lines, and the tables' constraints.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps, Log } from '../../src/core/deps.js';
import { createTaskList } from '../../src/app/worker.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';

let db: TestDatabase;
let deps: Deps;
let app: ReturnType<typeof testApp>;
let now = new Date('2026-12-01T10:00:00Z');
const logLines: string[] = [];
const capturingLog: Log = {
  info: (o, m) => logLines.push(JSON.stringify([o, m])),
  warn: (o, m) => logLines.push(JSON.stringify([o, m])),
  error: (o, m) => logLines.push(JSON.stringify([o, m])),
  debug: () => {},
  child: () => capturingLog,
};

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db, { clock: () => now, logger: capturingLog });
  app = testApp(deps);
});
afterAll(async () => db.drop());

const ORIGIN = 'http://127.0.0.1:3000';

/** The session cookie (`name=value`) a portal response set, or undefined. */
function sessionCookie(res: Response): string | undefined {
  return res.headers
    .get('set-cookie')
    ?.split(';')[0]
    ?.match(/^switchyard_portal=.+/)?.[0];
}

async function login(apiKey: string, host = ORIGIN): Promise<Response> {
  return app.request(`${host}/portal/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ apiKey }).toString(),
  });
}

async function createLink(apiKey: string, body: unknown): Promise<Response> {
  return app.request(`${ORIGIN}/v1/portal/sessions`, jsonRequest('POST', body, apiKey));
}

/** Exchanges a portal link's URL for a session; the response. */
async function openLink(url: string): Promise<Response> {
  return app.request(url, { method: 'POST' });
}

/** The CSRF token on a page the cookie opens. */
async function csrfOf(cookie: string): Promise<string> {
  const page = await (await app.request(`${ORIGIN}/portal/endpoints`, { headers: { cookie } })).text();
  return page.match(/name="csrf-token" content="([0-9a-f]{64})"/)![1]!;
}

describe('POST /v1/portal/sessions', () => {
  it('answers 201 with a one-time URL, read + replay for an hour by default', async () => {
    const m = await aMerchant(deps);
    const res = await createLink(m.apiKey, {});
    expect(res.status).toBe(201);
    const body = (await res.json()) as { url: string; expiresAt: string };
    expect(body.url).toMatch(/^http:\/\/127\.0\.0\.1:3000\/portal\/sessions\/[A-Za-z0-9_-]{43}$/);
    expect(body.expiresAt).toBe('2026-12-01T11:00:00.000Z');
    const token = body.url.split('/').at(-1)!;
    const [row] = await db.sql<{ capabilities: string[]; token_hash: string }[]>`
      select capabilities, token_hash from gw.portal_sessions where merchant_id = ${m.id}`;
    expect(row!.capabilities).toEqual(['read', 'replay']);
    expect(row!.token_hash).not.toContain(token);

    const first = await openLink(body.url);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/portal');
    expect(sessionCookie(first)).toBeDefined();
    const second = await openLink(body.url);
    expect(second.status).toBe(404);
    expect(sessionCookie(second)).toBeUndefined();
  });

  it('refuses unknown capabilities, lifetimes out of range and unknown fields (400), and a missing key (401)', async () => {
    const m = await aMerchant(deps);
    for (const body of [
      { capabilities: ['admin'] },
      { capabilities: [] },
      { expiresInSeconds: 59 },
      { expiresInSeconds: 31 * 86400 },
      { extra: 1 },
    ]) {
      const res = await createLink(m.apiKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('invalid_request');
    }
    expect((await app.request(`${ORIGIN}/v1/portal/sessions`, { method: 'POST' })).status).toBe(401);
  });

  it('a link expires, and so does the session it opened', async () => {
    const m = await aMerchant(deps);
    const expired = (await (await createLink(m.apiKey, { expiresInSeconds: 60 })).json()) as { url: string };
    const used = (await (await createLink(m.apiKey, { expiresInSeconds: 120, capabilities: ['read'] })).json()) as { url: string };
    const cookie = sessionCookie(await openLink(used.url))!;
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).status).toBe(200);
    now = new Date(now.getTime() + 90_000);
    expect((await openLink(expired.url)).status).toBe(404);
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).status).toBe(200);
    now = new Date(now.getTime() + 60_000);
    const after = await app.request(`${ORIGIN}/portal`, { headers: { cookie } });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/portal/login');
  });
});

describe('portal sessions', () => {
  it('an API-key login lasts 12 hours; the cookie is Secure off loopback hosts', async () => {
    const m = await aMerchant(deps);
    const local = await login(m.apiKey);
    expect(local.status).toBe(303);
    const setCookie = local.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/portal/);
    expect(setCookie).not.toMatch(/Secure/);
    expect((await login(m.apiKey, 'http://portal.example.com')).headers.get('set-cookie')).toMatch(/; Secure/);

    const cookie = sessionCookie(local)!;
    now = new Date(now.getTime() + 12 * 3600_000 - 1000);
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).status).toBe(200);
    now = new Date(now.getTime() + 2000);
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).status).toBe(303);
    const rows = () => db.sql`select 1 from gw.portal_sessions where merchant_id = ${m.id}`;
    expect(await rows()).toHaveLength(2);
    // The hourly purge_expired_partitions cron deletes sessions that expired a day ago or more.
    const tasks = createTaskList(deps);
    now = new Date(now.getTime() + 24 * 3600_000 - 2000);
    expect((await login(m.apiKey)).status).toBe(303);
    await tasks.purge_expired_partitions!({ _cron: { ts: now.toISOString(), backfilled: false } }, {} as never);
    expect(await rows()).toHaveLength(3);
    now = new Date(now.getTime() + 4000);
    await tasks.purge_expired_partitions!({ _cron: { ts: now.toISOString(), backfilled: false } }, {} as never);
    expect(await rows()).toHaveLength(1);
  });

  it('a POST needs the session’s CSRF token and, when the browser names one, this origin', async () => {
    const m = await aMerchant(deps);
    const cookie = sessionCookie(await login(m.apiKey))!;
    const csrf = await csrfOf(cookie);
    const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    const url = 'http://127.0.0.1:9/hooks';
    expect((await app.request(`${ORIGIN}/portal/endpoints`, form({ url }))).status).toBe(403);
    expect((await app.request(`${ORIGIN}/portal/endpoints`, form({ url, _csrf: 'f'.repeat(64) }))).status).toBe(403);
    expect((await app.request(`${ORIGIN}/portal/endpoints`, form({ url, _csrf: csrf }, { origin: 'https://evil.example' }))).status).toBe(
      403,
    );
    // Hosts are compared, not schemes: behind a TLS-ending proxy the page is https, the request http.
    const created = await app.request(
      `${ORIGIN}/portal/endpoints`,
      form({ url, _csrf: csrf }, { origin: ORIGIN.replace('http:', 'https:') }),
    );
    expect(created.status).toBe(201);
    expect(await created.text()).toMatch(/whsec_/);
    // A bad field is a 400 page naming it, not a 500.
    const bad = await app.request(`${ORIGIN}/portal/endpoints`, form({ url, _csrf: csrf, rateLimitPerSecond: 'lots' }));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('rateLimitPerSecond');
  });

  it('refuses a login or link form posted from another site', async () => {
    const m = await aMerchant(deps);
    const headers = { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' };
    const res = await app.request(`${ORIGIN}/portal/login`, { method: 'POST', headers, body: `apiKey=${m.apiKey}` });
    expect(res.status).toBe(403);
    expect(sessionCookie(res)).toBeUndefined();
    const link = (await (await createLink(m.apiKey, {})).json()) as { url: string };
    expect((await app.request(link.url, { method: 'POST', headers })).status).toBe(403);
    expect((await openLink(link.url)).status).toBe(303);
  });

  it('logout ends the session on the server', async () => {
    const m = await aMerchant(deps);
    const cookie = sessionCookie(await login(m.apiKey))!;
    const csrf = await csrfOf(cookie);
    const out = await app.request(`${ORIGIN}/portal/logout`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: `_csrf=${csrf}`,
    });
    expect(out.status).toBe(303);
    const [row] = await db.sql<{ ended_at: Date | null }[]>`select ended_at from gw.portal_sessions where merchant_id = ${m.id}`;
    expect(row!.ended_at).toEqual(now);
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).headers.get('location')).toBe('/portal/login');
  });

  it('a session ends when the API key that logged in is revoked or expires, checked on every request', async () => {
    const m = await aMerchant(deps);
    const made = await app.request(`${ORIGIN}/v1/api-keys`, jsonRequest('POST', { name: 'portal login' }, m.apiKey));
    expect(made.status).toBe(201);
    const second = (await made.json()) as { id: string; key: string };
    const bySecond = sessionCookie(await login(second.key))!;
    const byFirst = sessionCookie(await login(m.apiKey))!;
    const page = (cookie: string) => app.request(`${ORIGIN}/portal`, { headers: { cookie } });
    expect((await page(bySecond)).status).toBe(200);

    const revoked = await app.request(`${ORIGIN}/v1/api-keys/${second.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${m.apiKey}` },
    });
    expect(revoked.status).toBe(200);
    const after = await page(bySecond);
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/portal/login');
    // A POST of the ended session is refused too, and another key's session goes on.
    const post = await app.request(`${ORIGIN}/portal/logout`, { method: 'POST', headers: { cookie: bySecond, 'x-csrf-token': 'x' } });
    expect(post.status).toBe(401);
    expect((await page(byFirst)).status).toBe(200);

    // Rolled with 60 s of overlap: the old key's session lasts those 60 s, not its own 12 h.
    const me = (await (await app.request(`${ORIGIN}/v1/merchant`, { headers: { authorization: `Bearer ${m.apiKey}` } })).json()) as {
      apiKey: { id: string };
    };
    const roll = await app.request(`${ORIGIN}/v1/api-keys/${me.apiKey.id}/roll`, jsonRequest('POST', { expiresInSeconds: 60 }, m.apiKey));
    expect(roll.status).toBe(201);
    const start = now;
    now = new Date(start.getTime() + 59_000);
    expect((await page(byFirst)).status).toBe(200);
    now = new Date(start.getTime() + 61_000);
    expect((await page(byFirst)).status).toBe(303);
  });

  it('a portal link and the session it opened end when the API key that made the link is revoked', async () => {
    const m = await aMerchant(deps);
    const made = await app.request(`${ORIGIN}/v1/api-keys`, jsonRequest('POST', { name: 'links' }, m.apiKey));
    const linker = (await made.json()) as { id: string; key: string };
    const urlOf = async () => ((await (await createLink(linker.key, {})).json()) as { url: string }).url;
    const [opened, unused] = [await urlOf(), await urlOf()];
    const cookie = sessionCookie(await openLink(opened))!;
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).status).toBe(200);
    const [row] = await db.sql<{ api_key_id: string }[]>`
      select api_key_id from gw.portal_sessions where merchant_id = ${m.id} and kind = 'session'`;
    expect(row!.api_key_id).toBe(linker.id);

    await app.request(`${ORIGIN}/v1/api-keys/${linker.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${m.apiKey}` } });
    expect((await app.request(`${ORIGIN}/portal`, { headers: { cookie } })).status).toBe(303);
    expect((await openLink(unused)).status).toBe(404);
  });

  it('a session without manage_endpoints gets a 403 page for endpoint actions', async () => {
    const m = await aMerchant(deps);
    const link = (await (await createLink(m.apiKey, { capabilities: ['read', 'replay'] })).json()) as { url: string };
    const cookie = sessionCookie(await openLink(link.url))!;
    const csrf = await csrfOf(cookie);
    const res = await app.request(`${ORIGIN}/portal/endpoints`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, url: 'http://127.0.0.1:9/hooks' }).toString(),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('manage_endpoints');
    expect(await db.sql`select 1 from gw.endpoints where merchant_id = ${m.id}`).toHaveLength(0);
  });
});

describe('endpoint actions', () => {
  it('edit, disable and enable, rotate (the new secret shown once), send a test event, recover', async () => {
    const m = await aMerchant(deps);
    const cookie = sessionCookie(await login(m.apiKey))!;
    const csrf = await csrfOf(cookie);
    const post = (path: string, fields: Record<string, string> = {}) =>
      app.request(`${ORIGIN}/portal${path}`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
      });
    const created = await (await post('/endpoints', { url: 'http://127.0.0.1:9/first' })).text();
    const id = created.match(/href="\/portal\/endpoints\/(ep_[0-9a-f]{32})"/)![1]!;
    const firstSecret = created.match(/whsec_[A-Za-z0-9+/=]+/)![0];
    const page = async () => (await app.request(`${ORIGIN}/portal/endpoints/${id}`, { headers: { cookie } })).text();
    expect(await page()).not.toContain(firstSecret);

    const edited = await post(`/endpoints/${id}`, {
      url: 'http://127.0.0.1:9/second',
      eventTypes: 'payment.captured, payment.refunded',
      rateLimitPerSecond: '5',
    });
    expect(edited.status).toBe(303);
    expect(edited.headers.get('location')).toBe(`/portal/endpoints/${id}?notice=updated`);
    const [row] = await db.sql<{ url: string; event_types: string[]; rate_limit_per_second: number }[]>`
      select url, event_types, rate_limit_per_second from gw.endpoints where id = ${id}`;
    expect(row).toEqual({
      url: 'http://127.0.0.1:9/second',
      event_types: ['payment.captured', 'payment.refunded'],
      rate_limit_per_second: 5,
    });

    expect((await post(`/endpoints/${id}/disable`)).status).toBe(303);
    expect(await page()).toContain('>Enable</button>');
    expect((await post(`/endpoints/${id}/test`)).status).toBe(409);
    expect((await post(`/endpoints/${id}/enable`)).status).toBe(303);

    const rotated = await post(`/endpoints/${id}/rotate`);
    expect(rotated.status).toBe(200);
    const newSecret = (await rotated.text()).match(/whsec_[A-Za-z0-9+/=]+/)![0];
    expect(newSecret).not.toBe(firstSecret);
    expect(await page()).not.toContain(newSecret);

    const test = await post(`/endpoints/${id}/test`);
    expect(test.status).toBe(303);
    const eventId = test.headers.get('location')!.split('/').at(-1)!;
    const [event] = await db.sql<{ type: string }[]>`select type from gw.events where id = ${eventId} and merchant_id = ${m.id}`;
    expect(event!.type).toBe('webhook.test');

    await db.sql`update gw.messages set status = 'failed', next_attempt_at = null where endpoint_id = ${id}`;
    const recovered = await post(`/endpoints/${id}/recover`, { since: '2026-01-01T00:00' });
    expect(recovered.headers.get('location')).toBe(`/portal/endpoints/${id}?recovered=1`);
    expect((await post(`/endpoints/${id}/recover`, { since: 'yesterday' })).status).toBe(400);
  });
});

describe('failed logins', () => {
  it('allows 10 a minute per client address, then answers 429 with Retry-After; no key reaches the log', async () => {
    const m = await aMerchant(deps);
    logLines.length = 0;
    const wrongKeys = Array.from({ length: 11 }, (_, i) => `sk_wrong_key_number_${i}_abcdefghijklmnop`);
    for (const key of wrongKeys.slice(0, 10)) expect((await login(key)).status).toBe(401);
    now = new Date(now.getTime() + 20_000);
    const limited = await login(wrongKeys[10]!);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('40');
    // The right key too: the limit is on the address, before any key is checked.
    expect((await login(m.apiKey)).status).toBe(429);
    const failures = logLines.filter((l) => l.includes('portal login failed'));
    expect(failures).toHaveLength(10);
    for (const line of logLines) for (const key of [...wrongKeys, m.apiKey]) expect(line).not.toContain(key);

    now = new Date(now.getTime() + 41_000);
    expect((await login(m.apiKey)).status).toBe(303);
  });
});

describe('the failed-login limit behind a proxy', () => {
  /** Runs `body` against `target` served on a real socket at 127.0.0.1 (the limit keys on the socket's address). */
  async function onSocket(target: ReturnType<typeof testApp>, body: (base: string) => Promise<void>): Promise<void> {
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: target.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  const wrongLogin = (base: string, forwardedFor: string) =>
    fetch(`${base}/portal/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, 'x-forwarded-for': forwardedFor },
      body: new URLSearchParams({ apiKey: 'sk_wrong_key_behind_a_proxy_abcdefghijkl' }).toString(),
      redirect: 'manual',
    });

  it('with SWITCHYARD_TRUSTED_PROXIES, counts per client the proxy names in X-Forwarded-For, not per proxy', async () => {
    now = new Date(now.getTime() + 3_600_000);
    const proxied = testApp(
      await testDeps(db, { clock: () => now, logger: capturingLog, env: { SWITCHYARD_TRUSTED_PROXIES: '127.0.0.0/8,::1' } }),
    );
    await onSocket(proxied, async (base) => {
      // The left entry is whatever the client sent; the proxy appended the address it saw.
      for (let i = 0; i < 10; i++) expect((await wrongLogin(base, `198.51.100.${i}, 203.0.113.5`)).status).toBe(401);
      expect((await wrongLogin(base, '198.51.100.99, 203.0.113.5')).status).toBe(429);
      expect((await wrongLogin(base, '203.0.113.5, 203.0.113.6')).status).toBe(401);
    });
    const addresses = await db.sql<{ client_address: string }[]>`
      select distinct client_address from gw.audit_log where path = '/portal/login' and client_address like '203.0.113.%'`;
    expect(addresses.map((a) => a.client_address).sort()).toEqual(['203.0.113.5', '203.0.113.6']);
  });

  it('without the setting (the default), ignores X-Forwarded-For: every request through one proxy shares its limit', async () => {
    now = new Date(now.getTime() + 3_600_000);
    await onSocket(app, async (base) => {
      for (let i = 0; i < 10; i++) expect((await wrongLogin(base, `203.0.113.${i}`)).status).toBe(401);
      expect((await wrongLogin(base, '203.0.113.200')).status).toBe(429);
    });
  });
});

describe('the portal tables', () => {
  it('refuse a link with an unknown capability, a session that expires before it starts, and a used session', async () => {
    const m = await aMerchant(deps);
    const insert = (capabilities: string[], kind: string, expires: string, usedAt: string | null = null) =>
      db.sql`insert into gw.portal_sessions (token_hash, kind, merchant_id, capabilities, created_at, expires_at, used_at)
             values (${'a'.repeat(63) + String(Math.floor(Math.random() * 10))}, ${kind}, ${m.id}, ${capabilities},
                     '2026-12-01T10:00:00Z', ${expires}, ${usedAt})`;
    await expect(insert(['admin'], 'link', '2026-12-01T11:00:00Z')).rejects.toThrow(/check/);
    await expect(insert([], 'link', '2026-12-01T11:00:00Z')).rejects.toThrow(/check/);
    await expect(insert(['read'], 'link', '2026-12-01T09:00:00Z')).rejects.toThrow(/check/);
    await expect(insert(['read'], 'session', '2026-12-01T11:00:00Z', '2026-12-01T10:00:00Z')).rejects.toThrow(/check/);
    await expect(
      db.sql`insert into gw.portal_sessions (token_hash, kind, merchant_id, capabilities, expires_at) values ('not-a-hash', 'link', ${m.id}, ${['read']}, now() + interval '1 hour')`,
    ).rejects.toThrow(/check/);
  });
});
