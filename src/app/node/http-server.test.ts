// What a node:http server with answerClientError, answerInvalidTargets and
// applyServerLimits says to requests its parser (or the URL building) refuses.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerClientError, answerInvalidTargets, applyServerLimits, requestTargetProblem } from './http-server.js';
import { parseAnswer as parse, trickle as trickleTo } from '../../../test/raw-http.js';

let server: Server;
let port: number;

beforeAll(async () => {
  // Reads the whole body before answering, as the gateway's routes do.
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on('clientError', answerClientError);
  answerInvalidTargets(server);
  applyServerLimits(server, {
    SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS: 1_000,
    SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS: 500,
    SWITCHYARD_HTTP_KEEP_ALIVE_TIMEOUT_MS: 5_000,
    SWITCHYARD_HTTP_MAX_CONNECTIONS: 100,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Writes raw bytes to the server and reads everything it answers until it closes. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** {@link trickleTo} on this file's server. */
const trickle = (head: string, rest: string, everyMs: number) => trickleTo(port, head, rest, everyMs);

describe('answerClientError', () => {
  it('answers headers beyond maxHeaderSize with 431 problem+json headers_too_large', async () => {
    const answer = parse(
      await raw(`POST /inbound/src_x HTTP/1.1\r\nhost: x\r\nstripe-signature: ${'a'.repeat(20_000)}\r\ncontent-length: 0\r\n\r\n`),
    );
    expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(answer.headers).toContain('content-type: application/problem+json');
    expect(answer.body).toMatchObject({ status: 431, code: 'headers_too_large', title: 'Request Header Fields Too Large' });
    expect(JSON.stringify(answer.body)).not.toContain('aaaa');
    expect((answer.body as { detail: string }).detail).toContain('signature header');
  });

  it('answers a 20 KB header on an API route with a 431 whose detail does not speak of signatures', async () => {
    const answer = parse(await raw(`POST /v1/payments HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\ncontent-length: 0\r\n\r\n`));
    expect(answer.body).toMatchObject({ status: 431, code: 'headers_too_large' });
    const detail = (answer.body as { detail: string }).detail;
    expect(detail).toContain('send fewer or smaller headers');
    expect(detail).not.toMatch(/signature/i);
  });

  it('answers a request that is not HTTP with 400 problem+json invalid_request', async () => {
    const answer = parse(await raw('NOT HTTP AT ALL\r\n\r\n'));
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(answer.body).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('leaves well-formed requests to the server', async () => {
    expect(await raw('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*ok$/);
  });
});

describe('answerClientError with applyServerLimits', () => {
  it('answers headers sent a byte per 100 ms with 408 problem+json request_timeout and closes the connection', async () => {
    const { answer, ms } = await trickle(
      'POST /inbound/src_x HTTP/1.1\r\n',
      `host: x\r\ncontent-length: 2\r\nx-slow: ${'a'.repeat(200)}`,
      100,
    );
    const parsed = parse(answer);
    expect(parsed.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(parsed.headers).toContain('content-type: application/problem+json');
    expect(parsed.body).toMatchObject({ status: 408, code: 'request_timeout', title: 'Request Timeout' });
    expect(ms).toBeLessThan(5_000);
  });

  it('answers a body sent a byte per 100 ms with 408 problem+json once the request timeout passes', async () => {
    const { answer, ms } = await trickle('POST /inbound/src_x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n', '{'.repeat(100), 100);
    const parsed = parse(answer);
    expect(parsed.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(parsed.body).toMatchObject({ status: 408, code: 'request_timeout' });
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5_000);
  });

  it('answers Transfer-Encoding: xchunked with 400 problem+json naming Transfer-Encoding', async () => {
    const answer = parse(await raw('POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(answer.headers).toContain('content-type: application/problem+json');
    expect(answer.body).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(answer.body.detail).toContain('Transfer-Encoding');
  });

  it('sets the timeouts and the connection cap, never a headers timeout above the request timeout', () => {
    const s = createServer();
    applyServerLimits(s, {
      SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS: 2_000,
      SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS: 10_000,
      SWITCHYARD_HTTP_KEEP_ALIVE_TIMEOUT_MS: 3_000,
      SWITCHYARD_HTTP_MAX_CONNECTIONS: 7,
    });
    expect({ request: s.requestTimeout, headers: s.headersTimeout, keepAlive: s.keepAliveTimeout, max: s.maxConnections }).toEqual({
      request: 2_000,
      headers: 2_000,
      keepAlive: 3_000,
      max: 7,
    });
  });
});

describe('answerInvalidTargets', () => {
  it('answers an HTTP/1.1 request without Host with 400 problem+json invalid_request', async () => {
    const answer = parse(await raw('GET / HTTP/1.1\r\nconnection: close\r\n\r\n'));
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(answer.headers).toContain('content-type: application/problem+json');
    expect(answer.body).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(answer.body.detail).toContain('Host');
  });

  it('answers Host: a@b with 400 problem+json invalid_request', async () => {
    const answer = parse(await raw('GET / HTTP/1.1\r\nhost: a@b\r\nconnection: close\r\n\r\n'));
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(answer.body).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('leaves an HTTP/1.0 request without Host to the server', async () => {
    expect(await raw('GET / HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*ok$/);
  });
});

describe('requestTargetProblem', () => {
  const req = (url: string, host: string | undefined, httpVersion = '1.1') =>
    ({ url, httpVersion, headers: host === undefined ? {} : { host } }) as unknown as IncomingMessage;

  it('accepts host, host:port, IPv4 and IPv6 literals, with any path and query', () => {
    for (const host of ['gw.example.com', 'gw.example.com:8443', '127.0.0.1:3000', '[::1]:3000', 'GW.Example.COM']) {
      expect(requestTargetProblem(req('/inbound/src_1?x=a\\b', host)), host).toBeUndefined();
    }
  });

  it('refuses a missing Host on HTTP/1.1, userinfo, a path or a space in Host, and a backslash in the path', () => {
    expect(requestTargetProblem(req('/', undefined))).toMatch(/no Host/);
    for (const host of ['a@b', 'a/b', 'a b', 'a:b:c', '']) expect(requestTargetProblem(req('/', host)), host).toMatch(/Host/);
    expect(requestTargetProblem(req('/a\\b', 'x'))).toMatch(/backslash/);
  });
});
