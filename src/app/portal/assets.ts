// (node) The portal's static files: htmx and uPlot read from their installed npm packages, and the portal's own
// script and styles (client.ts). Names carry a version or content hash, so they are cached for a year.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Hono } from 'hono';
import { PORTAL_CSS, PORTAL_JS } from './client.js';
import type { PortalEnv } from './session.js';

const require = createRequire(import.meta.url);

/** The directory and version of an installed package, from its resolved `package.json`. */
function installed(manifest: string): { dir: string; version: string } {
  return { dir: path.dirname(manifest), version: (require(manifest) as { version: string }).version };
}

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

const htmx = installed(require.resolve('htmx.org/package.json'));
const uplot = installed(require.resolve('uplot/package.json'));

type Asset = { type: string; body: () => Promise<Uint8Array | string> };

const cache = new Map<string, Promise<Uint8Array>>();
/** A package file, read once per process. */
function packageFile(file: string): () => Promise<Uint8Array> {
  return () => {
    let pending = cache.get(file);
    if (!pending) {
      pending = readFile(file);
      pending.catch(() => cache.delete(file));
      cache.set(file, pending);
    }
    return pending;
  };
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The URL path (under /portal/assets/) of each file a page links. */
export const ASSET_NAMES = {
  htmx: `htmx-${htmx.version}.min.js`,
  uplotJs: `uplot-${uplot.version}.iife.min.js`,
  uplotCss: `uplot-${uplot.version}.min.css`,
  portalJs: `portal-${hash8(PORTAL_JS)}.js`,
  portalCss: `portal-${hash8(PORTAL_CSS)}.css`,
} as const;

const ASSETS = new Map<string, Asset>([
  [ASSET_NAMES.htmx, { type: JS, body: packageFile(path.join(htmx.dir, 'dist', 'htmx.min.js')) }],
  [ASSET_NAMES.uplotJs, { type: JS, body: packageFile(path.join(uplot.dir, 'dist', 'uPlot.iife.min.js')) }],
  [ASSET_NAMES.uplotCss, { type: CSS, body: packageFile(path.join(uplot.dir, 'dist', 'uPlot.min.css')) }],
  [ASSET_NAMES.portalJs, { type: JS, body: async () => PORTAL_JS }],
  [ASSET_NAMES.portalCss, { type: CSS, body: async () => PORTAL_CSS }],
]);

/** Adds `GET /assets/{name}` to the portal router: the files above, `Cache-Control: public, max-age=31536000, immutable`; else 404. */
export function addAssetRoutes(app: Hono<PortalEnv>): void {
  app.get('/assets/:name', async (c) => {
    const asset = ASSETS.get(c.req.param('name'));
    if (!asset) return c.text('Not found', 404);
    const body = await asset.body();
    return c.body(typeof body === 'string' ? body : new Uint8Array(body), 200, {
      'content-type': asset.type,
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
  });
}
