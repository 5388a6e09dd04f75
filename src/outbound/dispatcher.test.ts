import { Buffer } from 'node:buffer';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch, type DispatchRequest } from './dispatcher.js';

const servers: Server[] = [];

async function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/hook` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

afterEach(async () => {
  await Promise.all(
    servers
      .splice(0)
      .filter((s) => s.listening)
      .map(close),
  );
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function attempt(url: string, overrides: Partial<DispatchRequest> = {}): Promise<Awaited<ReturnType<typeof dispatch>>> {
  return dispatch({
    url,
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' },
    body: new TextEncoder().encode('{"type":"payment.captured"}'),
    timeoutMs: 5_000,
    maxResponseBytes: 64 * 1024,
    ...overrides,
  });
}

describe('dispatch', () => {
  it('POSTs the body and headers and returns a 200 with its body, headers and duration', async () => {
    let seen: { method?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    const { url } = await listen(async (req, res) => {
      seen = { method: req.method, headers: req.headers, body: await readBody(req) };
      res.setHeader('x-receipt', 'r_1');
      res.end('thanks');
    });

    const outcome = await attempt(url);

    expect(seen.method).toBe('POST');
    expect(seen.headers?.['webhook-id']).toBe('msg_1');
    expect(seen.headers?.['content-type']).toBe('application/json');
    expect(seen.body).toBe('{"type":"payment.captured"}');
    expect(outcome).toMatchObject({ kind: 'response', status: 200, body: 'thanks' });
    if (outcome.kind !== 'response') throw new Error('expected a response');
    expect(outcome.headers['x-receipt']).toBe('r_1');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('returns a 500 as a response, not an error', async () => {
    const { url } = await listen((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    expect(await attempt(url)).toMatchObject({ kind: 'response', status: 500, body: 'boom' });
  });

  it('returns a 302 as is and never requests the redirect target', async () => {
    let targetHits = 0;
    const target = await listen((_req, res) => {
      targetHits++;
      res.end('followed');
    });
    const { url } = await listen((_req, res) => {
      res.writeHead(302, { location: target.url }).end();
    });

    const outcome = await attempt(url);

    expect(outcome).toMatchObject({ kind: 'response', status: 302, headers: { location: target.url } });
    expect(targetHits).toBe(0);
  });

  it("reports 'timeout' when the server never answers within timeoutMs", async () => {
    const { url } = await listen(() => {
      /* never answers */
    });
    const outcome = await attempt(url, { timeoutMs: 300 });
    expect(outcome).toMatchObject({ kind: 'error', error: 'timeout' });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(250);
    expect(outcome.durationMs).toBeLessThan(3_000);
  });

  it("reports 'timeout' when the body stalls after the headers", async () => {
    const { url } = await listen((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    expect(await attempt(url, { timeoutMs: 300 })).toMatchObject({ kind: 'error', error: 'timeout' });
  });

  it("reports 'connection refused' for a closed port", async () => {
    const { server, url } = await listen((_req, res) => res.end());
    await close(server);
    expect(await attempt(url)).toMatchObject({ kind: 'error', error: 'connection refused' });
  });

  it('truncates a 1 MiB response to maxResponseBytes', async () => {
    const { url } = await listen((_req, res) => {
      res.on('error', () => {}); // the client hangs up mid-body
      res.end(Buffer.alloc(1024 * 1024, 'a'));
    });
    const outcome = await attempt(url, { maxResponseBytes: 1000 });
    expect(outcome).toMatchObject({ kind: 'response', status: 200, body: 'a'.repeat(1000) });
  });

  it('keeps no body at all when maxResponseBytes is 0', async () => {
    const { url } = await listen((_req, res) => res.end('ignored'));
    expect(await attempt(url, { maxResponseBytes: 0 })).toMatchObject({ kind: 'response', status: 200, body: '' });
  });

  it("reports 'connection reset' when the server destroys the socket", async () => {
    const { url } = await listen((req: IncomingMessage, _res: ServerResponse) => {
      req.socket.destroy();
    });
    expect(await attempt(url)).toMatchObject({ kind: 'error', error: 'connection reset' });
  });
});
