// Test seams for the portal's browser tests: a gateway on a real port, Debian's Chromium driven by playwright-core,
// a receiver whose answer the test scripts, and screenshots written as artefacts (not committed).
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type AppDeps } from '../../src/app/http.js';

/** Debian's chromium package (`.ci/run` installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';

/** Where screenshots go: gitignored, kept after the run for a person to look at. */
export const SCREENSHOT_DIR = path.resolve('artifacts/portal-screenshots');

/** Launches headless Chromium with no network chatter of its own; Playwright gives it a new, empty profile directory. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The Node app on `deps`, listening on 127.0.0.1 at a free port; `origin` is its `http://127.0.0.1:port`. */
export async function startGateway(deps: AppDeps): Promise<{ origin: string; close(): Promise<void> }> {
  const app = createApp(deps);
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A receiver on 127.0.0.1 that answers `answer.status` with `answer.body` (text/plain); change `answer` to script it. */
export async function startScriptedReceiver(): Promise<{ url: string; answer: { status: number; body: string }; close(): Promise<void> }> {
  const answer = { status: 200, body: 'ok' };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    answer,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Saves a full-page screenshot of `page` as `<name>.png` under {@link SCREENSHOT_DIR}. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
