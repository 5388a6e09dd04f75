// The gateway's HTTP server under slow, malformed and aborted requests (startGateway on a real
// socket): timeouts answer 408 problem+json, a connection cap holds, parser and Host
// refusals are problem+json, and a client that hangs up mid-body is no 'unhandled error'.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import type { AppEnv, Log } from '../../src/core/deps.js';
import { onError } from '../../src/core/http/problem.js';
import { createLogger } from '../../src/app/node/logger.js';
import { generateMasterKey } from '../../src/core/secrets.js';
import { startGateway, type Gateway } from '../../src/app/gateway.js';
import { aMerchant } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { parseAnswer, trickle as trickleTo } from '../raw-http.js';

let db: TestDatabase;
let dataDir: string;
let gateway: Gateway;
/** A second gateway on the same database whose connection cap is 2. */
let capped: Gateway;
/** Every line the main gateway logged, parsed. */
const lines: { level: number; msg: string; err?: unknown }[] = [];
let sourceId: string;
/** Both gateways share the database, so one master key. */
const MASTER_KEY = generateMasterKey();

function start(env: Record<string, string>, logger = createLogger('silent')): Promise<Gateway> {
  const config = loadConfig({
    DATABASE_URL: db.url,
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_MASTER_KEY: MASTER_KEY,
    SWITCHYARD_ADMIN_TOKEN: 'adm_http_limits_test_0123456789',
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    PORT: '0',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS: '1000',
    SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS: '500',
    ...env,
  });
  return startGateway(config, { withWorker: false, logger });
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-http-limits-'));
  gateway = await start({}, createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }));
  capped = await start({ SWITCHYARD_HTTP_MAX_CONNECTIONS: '2' });
  const merchant = await aMerchant(gateway.deps);
  const res = await fetch(`${gateway.url}/v1/sources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${merchant.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'stripe', secret: 'whsec_3S05HOR7U8g5Pq8PMBYtsHu3R2Z3fQza' }),
  });
  expect(res.status).toBe(201);
  sourceId = ((await res.json()) as { id: string }).id;
});
afterAll(async () => {
  await gateway?.stop();
  await capped?.stop();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const portOf = (g: Gateway) => Number(new URL(g.url).port);

/** Opens a socket to `g`, resolved once connected. */
function open(g: Gateway): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(portOf(g), '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** {@link trickleTo} on the main gateway. */
const trickle = (head: string, rest?: string, everyMs?: number) => trickleTo(portOf(gateway), head, rest, everyMs);

function expectProblem(answer: string, status: number, code: string): Record<string, unknown> {
  const parsed = parseAnswer(answer);
  expect(parsed.statusLine.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
  expect(parsed.headers).toContain('content-type: application/problem+json');
  expect(parsed.body).toMatchObject({ status, code });
  return parsed.body;
}

/** One request on an open socket, answered with a status line. */
function requestOn(socket: Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const onData = (d: Buffer) => {
      answer += d.toString('latin1');
      if (/\r\n\r\n/.test(answer)) {
        socket.off('data', onData);
        resolve(answer);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(request);
  });
}

describe('the gateway HTTP server', () => {
  it('answers a body sent a byte per 100 ms with 408 problem+json request_timeout and closes within the bound', async () => {
    const { answer, ms } = await trickle(
      `POST /inbound/${sourceId} HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n`,
      '{'.repeat(200),
    );
    expectProblem(answer, 408, 'request_timeout');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(6_000);
  });

  it('answers headers sent a byte per 100 ms with 408 problem+json request_timeout', async () => {
    const { answer, ms } = await trickle('GET /healthz HTTP/1.1\r\n', `host: gw\r\nx-slow: ${'a'.repeat(100)}`);
    expect(expectProblem(answer, 408, 'request_timeout').title).toBe('Request Timeout');
    expect(ms).toBeLessThan(6_000);
  });

  it('closes a connection beyond SWITCHYARD_HTTP_MAX_CONNECTIONS while the earlier ones keep working', async () => {
    const first = await open(capped);
    const second = await open(capped);
    const ping = 'GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n';
    expect(await requestOn(first, ping)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await requestOn(second, ping)).toMatch(/^HTTP\/1\.1 200 /);
    const extra = await open(capped);
    const extraAnswer = await new Promise<string>((resolve) => {
      let got = '';
      extra.on('data', (d) => (got += d.toString('latin1')));
      extra.on('error', () => {});
      extra.on('close', () => resolve(got));
      extra.write(ping);
    });
    expect(extraAnswer).toBe('');
    expect(await requestOn(first, ping)).toMatch(/^HTTP\/1\.1 200 /);
    expect(await requestOn(second, ping)).toMatch(/^HTTP\/1\.1 200 /);
    first.destroy();
    second.destroy();
  });

  it('answers Transfer-Encoding: xchunked with 400 problem+json invalid_request', async () => {
    const { answer } = await trickle(
      `POST /inbound/${sourceId} HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    );
    expect(expectProblem(answer, 400, 'invalid_request').detail).toContain('Transfer-Encoding');
  });

  it('answers a missing Host and Host: a@b with 400 problem+json invalid_request', async () => {
    for (const head of ['GET /healthz HTTP/1.1\r\n\r\n', 'GET /healthz HTTP/1.1\r\nhost: a@b\r\n\r\n']) {
      const { answer } = await trickle(head);
      expect(expectProblem(answer, 400, 'invalid_request').detail).toContain('Host');
    }
  });

  it('logs a client that hangs up mid-body as one info line, never as an unhandled error', async () => {
    const before = lines.length;
    const socket = await open(gateway);
    socket.write(`POST /inbound/${sourceId} HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"id":`);
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    const deadline = Date.now() + 5_000;
    while (!lines.slice(before).some((l) => l.msg === 'client aborted the request') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const logged = lines.slice(before);
    const aborted = logged.filter((l) => l.msg === 'client aborted the request');
    expect(aborted).toHaveLength(1);
    expect(aborted[0]!.level).toBe(30);
    expect(aborted[0]!.err).toBeUndefined();
    expect(logged.filter((l) => l.msg === 'unhandled error')).toEqual([]);
  });

  it('logs no unhandled error for any of the requests above', () => {
    expect(lines.filter((l) => l.msg === 'unhandled error' || l.level >= 50)).toEqual([]);
  });
});

describe('onError with text PostgreSQL refuses', () => {
  /** A bare app whose routes send text to the real database; its log lines are kept. */
  function appLogging(into: { level: string; obj: Record<string, unknown>; msg?: string }[]) {
    const log: Log = {
      info: (obj: Record<string, unknown>, msg?: string) => void into.push({ level: 'info', obj, msg }),
      warn: (obj: Record<string, unknown>, msg?: string) => void into.push({ level: 'warn', obj, msg }),
      error: (obj: Record<string, unknown>, msg?: string) => void into.push({ level: 'error', obj, msg }),
      debug() {},
      child: () => log,
    } as unknown as Log;
    const app = new Hono<AppEnv>();
    app.use('*', async (c, next) => {
      c.set('log', log);
      await next();
    });
    app.get('/nul', async (c) => c.json(await db.sql`select ${'a\u0000b'}::text as t`));
    app.get('/escape', async (c) => c.json(await db.sql`select (${'"\\u0000"'}::text)::jsonb as j`));
    app.onError(onError);
    return app;
  }

  for (const [route, sqlstate] of [
    ['/nul', '22021'],
    ['/escape', '22P05'],
  ] as const) {
    it(`answers SQLSTATE ${sqlstate} with 400 invalid_request and one info line without a stack`, async () => {
      const logged: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
      const res = await appLogging(logged).request(route);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({
        code: 'invalid_request',
        title: 'Bad Request',
        detail: 'The request holds text PostgreSQL cannot store: a NUL (U+0000) or an unpaired surrogate.',
      });
      expect(logged).toEqual([{ level: 'info', obj: { code: sqlstate }, msg: 'request text cannot be stored' }]);
    });
  }
});
