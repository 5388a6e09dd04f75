// msw answers only `fetch` calls of the process it runs in. A Switchyard in another process
// (`npm start`, Docker) reaches a simulator through this HTTP front instead: its source's
// `apiBaseUrl` points here, and each request is answered by the simulator's own handlers.
import { getResponse, type HttpHandler } from 'msw';

/** A simulator served over HTTP. */
export interface ServedSimulator {
  /** Base URL to give the Switchyard source as `apiBaseUrl`, e.g. `http://127.0.0.1:4010` (no trailing slash). */
  url: string;
  /** Stops listening; resolves once the server is closed. */
  close(): Promise<void>;
}

/** Options of {@link serveSimulator}. */
export interface ServeSimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
}

/** What {@link serveSimulator} serves: a simulator, or anything with its handlers and base URL. */
export interface ServableSimulator {
  handlers: HttpHandler[];
  baseUrl: string;
}

type NodeHttp = typeof import('node:http');

/**
 * Serves a simulator (`stripeSimulator(…)` or `adyenSimulator(…)`) over HTTP, on Node, for a
 * Switchyard running in another process: create its source with `apiBaseUrl` = the returned
 * `url` (the gateway needs `SWITCHYARD_ALLOW_PRIVATE_URLS=true` for a loopback address).
 * A request for `<url>/<path>` is answered as the simulator answers `<baseUrl>/<path>`, with
 * the same call log, idempotency and webhooks; no msw server needs to be listening. A path no
 * handler matches answers 404. `sim` may be a function that returns the simulator, called per
 * request: the source's inbound URL (for the simulator's webhooks) exists only once the source
 * was created with this `url`. Throws when not running on Node.
 *
 * @example
 * let sim: StripeSimulator | undefined;
 * const front = await serveSimulator(() => sim!);
 * // POST /v1/sources { provider: 'stripe', apiBaseUrl: front.url, … } → { inboundUrl }
 * sim = stripeSimulator({ webhooks: { url: `${gateway}${inboundUrl}`, secret } });
 */
export async function serveSimulator(
  sim: ServableSimulator | (() => ServableSimulator),
  options: ServeSimulatorOptions = {},
): Promise<ServedSimulator> {
  const current = typeof sim === 'function' ? sim : () => sim;
  const http = globalThis.process?.getBuiltinModule?.('node:http') as NodeHttp | undefined;
  if (!http) throw new Error('serveSimulator runs on Node only (it starts an HTTP server)');
  /** The simulator's answer to one request received at the front, as it would answer it at its baseUrl. */
  const answer = async (method: string, path: string, rawHeaders: Record<string, string | string[] | undefined>, body: Buffer) => {
    const target = current() as ServableSimulator | undefined;
    if (!target) return new Response('the simulator is not set yet\n', { status: 503 });
    const headers = new Headers();
    for (const [name, value] of Object.entries(rawHeaders)) {
      if (value === undefined || name === 'host' || name === 'connection') continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const request = new Request(`${target.baseUrl}${path}`, {
      method,
      headers,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
    });
    return (await getResponse(target.handlers, request)) ?? new Response(`no simulator handler for ${method} ${path}\n`, { status: 404 });
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      answer(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks))
        .then(async (response) => {
          const out: Record<string, string> = {};
          response.headers.forEach((value, name) => {
            if (name !== 'content-length' && name !== 'transfer-encoding') out[name] = value;
          });
          res.writeHead(response.status, out).end(Buffer.from(await response.arrayBuffer()));
        })
        .catch((error: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`simulator failed: ${String(error)}\n`);
        });
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
