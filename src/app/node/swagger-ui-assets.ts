// (node) The Swagger UI files of `/docs`, read from the installed npm package swagger-ui-dist.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { SwaggerUiAssets, SwaggerUiFile } from '../../core/http/openapi.js';

const require = createRequire(import.meta.url);
const dist = path.dirname(require.resolve('swagger-ui-dist/package.json'));
// Read once per process (about 2 MB together): /docs is rare, the files never change while we run.
const cache = new Map<SwaggerUiFile, Promise<Uint8Array>>();

/** {@link SwaggerUiAssets} over swagger-ui-dist's directory; rejects when a file cannot be read. */
export const swaggerUiAssets: SwaggerUiAssets = (file) => {
  let pending = cache.get(file);
  if (!pending) {
    pending = readFile(path.join(dist, file));
    pending.catch(() => cache.delete(file));
    cache.set(file, pending);
  }
  return pending;
};
