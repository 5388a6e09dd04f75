// What a node:http server with answerClientError says to requests its parser refuses.
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerClientError } from '../../src/node-http.js';

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((_req, res) => res.end('ok'));
  server.on('clientError', answerClientError);
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

function parse(answer: string): { statusLine: string; headers: string; body: Record<string, unknown> } {
  const [head, body] = answer.split('\r\n\r\n');
  const [statusLine, ...headers] = head!.split('\r\n');
  return { statusLine: statusLine!, headers: headers.join('\n').toLowerCase(), body: JSON.parse(body!) as Record<string, unknown> };
}

describe('answerClientError', () => {
  it('answers headers beyond maxHeaderSize with 431 problem+json headers_too_large', async () => {
    const answer = parse(await raw(`POST /inbound/src_x HTTP/1.1\r\nhost: x\r\nstripe-signature: ${'a'.repeat(20_000)}\r\ncontent-length: 0\r\n\r\n`));
    expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(answer.headers).toContain('content-type: application/problem+json');
    expect(answer.body).toMatchObject({ status: 431, code: 'headers_too_large', title: 'Request Header Fields Too Large' });
    expect(JSON.stringify(answer.body)).not.toContain('aaaa');
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
