// The bad-input table of the merchant API (issue #16 item 6): each mistake a newcomer made gets
// a code of its own and a detail that names the fix (docs/http-api.md "Errors"). A row sends one
// request and states the status, the code (a problem's, or a warning's on a 2xx) and what the
// detail must say; `after` checks what must (not) have been stored.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { answerClientError } from '../../src/app/node/http-server.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { parseAnswer, trickle } from '../raw-http.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

let db: TestDatabase;
/** Private URLs refused, as in production (testDeps allows them by default). */
let strict: Deps;
let app: ReturnType<typeof testApp>;
let apiKey: string;
/** A Stripe source without a PSP apiKey: the payments API refuses it (422 psp_not_configured). */
let bareSourceId: string;
let server: ServerType;
let port: number;

beforeAll(async () => {
  db = await createTestDatabase();
  strict = await testDeps(db, { env: { SWITCHYARD_ALLOW_PRIVATE_URLS: 'false' } });
  app = testApp(strict);
  apiKey = (await aMerchant(strict)).apiKey;
  const source = await app.request('/v1/sources', jsonRequest('POST', { provider: 'stripe', secret: SECRET }, apiKey));
  expect(source.status).toBe(201);
  bareSourceId = ((await source.json()) as { id: string }).id;
  // The gateway's HTTP server: its parser errors answered as problem+json (src/app/gateway.ts does the same).
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  server.on('clientError', answerClientError);
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await db?.drop();
});

const auth = (extra: Record<string, string> = {}): Record<string, string> => ({ authorization: `Bearer ${apiKey}`, ...extra });

/** POST `path` with a JSON `body` and an Idempotency-Key (omitted when `key` is null). */
async function post(path: string, body: unknown, key: string | null = `k-${Math.random()}`): Promise<Response> {
  return app.request(path, {
    method: 'POST',
    headers: auth({ 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) }),
    body: JSON.stringify(body),
  });
}

const payment = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  amount: 2000,
  currency: 'USD',
  sourceId: bareSourceId,
  merchantReference: 'order-1',
  ...over,
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers | string;
}

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

interface Case {
  name: string;
  send: () => Promise<Answer>;
  status: number;
  /** The problem's `code`, or on a 2xx the one warning's `code`. */
  code: string;
  /** What the detail (the warning's, on a 2xx) must say. */
  detail: RegExp;
  /** What the detail must not say. */
  notDetail?: RegExp;
  after?: (a: Answer) => Promise<void> | void;
}

const cases: Case[] = [
  {
    name: 'an endpoint on a loopback address names SWITCHYARD_ALLOW_PRIVATE_URLS',
    send: async () => answer(await app.request('/v1/endpoints', jsonRequest('POST', { url: 'http://127.0.0.1:4000/hooks' }, apiKey))),
    status: 400,
    code: 'url_not_allowed',
    detail: /127\.0\.0\.1 is loopback; SWITCHYARD_ALLOW_PRIVATE_URLS=true allows private addresses \(development only\)/,
  },
  {
    name: 'an endpoint on localhost names SWITCHYARD_ALLOW_PRIVATE_URLS',
    send: async () => answer(await app.request('/v1/endpoints', jsonRequest('POST', { url: 'http://localhost:4000/hooks' }, apiKey))),
    status: 400,
    code: 'url_not_allowed',
    detail: /localhost is loopback; SWITCHYARD_ALLOW_PRIVATE_URLS=true/,
  },
  {
    name: 'an endpoint whose host does not resolve is created, with a url_unresolvable warning',
    send: async () => answer(await app.request('/v1/endpoints', jsonRequest('POST', { url: 'https://hooks.nowhere.invalid/in' }, apiKey))),
    status: 201,
    code: 'url_unresolvable',
    detail: /^hooks\.nowhere\.invalid does not resolve.*: check the host name\./,
    after: (a) => {
      expect(a.body).toMatchObject({ url: 'https://hooks.nowhere.invalid/in', status: 'enabled' });
      expect(a.body.secret).toMatch(/^whsec_/);
    },
  },
  {
    name: 'a source apiBaseUrl whose host does not resolve is created, with a url_unresolvable warning',
    send: async () =>
      answer(
        await app.request(
          '/v1/sources',
          jsonRequest(
            'POST',
            { provider: 'stripe', secret: SECRET, apiKey: 'sk_test_x', apiBaseUrl: 'https://psp.nowhere.invalid' },
            apiKey,
          ),
        ),
      ),
    status: 201,
    code: 'url_unresolvable',
    detail: /^psp\.nowhere\.invalid does not resolve/,
  },
  {
    name: 'a 10 KB Idempotency-Key is idempotency_key_invalid (it is present), saying how long it is',
    send: async () => answer(await post('/v1/payments', payment(), 'k'.repeat(10_000))),
    status: 400,
    code: 'idempotency_key_invalid',
    detail: /must be 1 to 255 characters; this one is 10000\./,
  },
  {
    name: 'no Idempotency-Key is still idempotency_key_missing',
    send: async () => answer(await post('/v1/payments', payment(), null)),
    status: 400,
    code: 'idempotency_key_missing',
    detail: /needs an Idempotency-Key header/,
  },
  {
    name: 'a 20 KB header on /v1/payments is 431 without a word about signature headers',
    send: async () => {
      const head = `POST /v1/payments HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${apiKey}\r\nx-padding: ${'p'.repeat(20_000)}\r\ncontent-length: 0\r\n\r\n`;
      const { answer: raw } = await trickle(port, head);
      const parsed = parseAnswer(raw);
      return { status: Number(parsed.statusLine.split(' ')[1]), body: parsed.body, headers: parsed.headers };
    },
    status: 431,
    code: 'headers_too_large',
    detail: /send fewer or smaller headers/,
    notDetail: /signature/i,
  },
  {
    name: 'startingAfter=zzz is 400 naming the cursor, not the first page',
    send: async () => answer(await app.request('/v1/endpoints?startingAfter=zzz', { headers: auth() })),
    status: 400,
    code: 'invalid_request',
    detail: /^The request failed validation: startingAfter: must be the id of an item of this list \(ep_/,
    after: (a) => expect(a.body.errors).toEqual([expect.objectContaining({ path: ['startingAfter'] })]),
  },
  {
    name: "startingAfter with another list's id is 400 naming the cursor",
    send: async () => answer(await app.request(`/v1/payments?startingAfter=src_${'0'.repeat(32)}`, { headers: auth() })),
    status: 400,
    code: 'invalid_request',
    detail: /startingAfter: .*\(pay_/,
  },
  {
    name: 'an amount of 1e20 lists too_big once',
    send: async () => answer(await post('/v1/payments', payment({ amount: 1e20 }))),
    status: 400,
    code: 'invalid_request',
    detail: /amount: at most 9007199254740991 minor units$/,
    after: (a) => expect(a.body.errors).toEqual([expect.objectContaining({ path: ['amount'], code: 'too_big' })]),
  },
  {
    name: 'a missing merchantReference is 400 naming it',
    send: async () => {
      const { merchantReference: _, ...body } = payment();
      return answer(await post('/v1/payments', body));
    },
    status: 400,
    code: 'invalid_request',
    detail: /merchantReference: /,
    after: (a) => expect(a.body.errors).toEqual([expect.objectContaining({ path: ['merchantReference'] })]),
  },
  {
    name: '422 psp_not_configured is not stored under the Idempotency-Key: the same key runs again, and may carry another request',
    send: async () => answer(await post('/v1/payments', payment(), 'not-configured-1')),
    status: 422,
    code: 'psp_not_configured',
    detail: /no PSP apiKey/,
    after: async () => {
      const [row] = await db.sql<
        { n: number }[]
      >`select count(*)::int as n from gw.idempotency_keys where idempotency_key = 'not-configured-1'`;
      expect(row!.n).toBe(0);
      const again = await post('/v1/payments', payment(), 'not-configured-1');
      expect(again.status).toBe(422);
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      // A different request under the same key is not idempotency_key_reused: nothing was kept.
      const other = await post('/v1/payments', payment({ amount: 999 }), 'not-configured-1');
      expect(((await other.json()) as { code: string }).code).toBe('psp_not_configured');
    },
  },
];

describe('bad input to the merchant API', () => {
  it.each(cases)('$name → $status $code', async ({ send, status, code, detail, notDetail, after }) => {
    const a = await send();
    expect(a.status).toBe(status);
    if (status >= 400) {
      const type = typeof a.headers === 'string' ? a.headers : (a.headers.get('content-type') ?? '');
      expect(type).toContain('application/problem+json');
      expect(a.body.code).toBe(code);
      expect(a.body.detail).toMatch(detail);
      if (notDetail) expect(a.body.detail).not.toMatch(notDetail);
    } else {
      const warnings = a.body.warnings as { code: string; detail: string }[];
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.code).toBe(code);
      expect(warnings[0]!.detail).toMatch(detail);
    }
    await after?.(a);
  });
});

describe('a well-formed cursor', () => {
  it('still pages: the last id of a page gives the next one', async () => {
    const m = await aMerchant(strict, 'Pager');
    for (const n of [1, 2, 3]) {
      const res = await app.request('/v1/endpoints', jsonRequest('POST', { url: `https://93.184.215.${n}/hooks` }, m.apiKey));
      expect(res.status).toBe(201);
    }
    const list = async (q: string): Promise<{ data: { id: string }[]; hasMore: boolean }> =>
      (await app.request(`/v1/endpoints?${q}`, { headers: { authorization: `Bearer ${m.apiKey}` } })).json() as never;
    const first = await list('limit=2');
    expect(first.data).toHaveLength(2);
    expect(first.hasMore).toBe(true);
    const second = await list(`limit=2&startingAfter=${first.data[1]!.id}`);
    expect(second.data).toHaveLength(1);
    expect(second.hasMore).toBe(false);
    expect(second.data[0]!.id < first.data[1]!.id).toBe(true);
  });
});
