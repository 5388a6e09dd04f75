// src/app/edge.ts served by workerd through wrangler's dev server (the same machinery as
// `wrangler dev`), with its Hyperdrive binding pointed at a test database.
import { fileURLToPath } from 'node:url';
import { unstable_startWorker } from 'wrangler';

/** A running edge worker: its base URL (`http://127.0.0.1:<port>`, no trailing slash). */
export interface EdgeWorker {
  url: string;
  stop(): Promise<void>;
}

const WRANGLER_TOML = fileURLToPath(new URL('../../wrangler.toml', import.meta.url));

/**
 * Starts wrangler.toml's Worker locally in workerd. `databaseUrl` replaces the Hyperdrive
 * binding's localConnectionString (it needs a user, a password and a database name);
 * `vars` are set over wrangler.toml's [vars], `secrets` as secret bindings. .dev.vars and
 * .env files are ignored, nothing is persisted, no metrics are sent, wrangler logs nothing.
 */
export async function startEdgeWorker(options: {
  databaseUrl: string;
  secrets: Record<string, string>;
  vars?: Record<string, string>;
}): Promise<EdgeWorker> {
  // Hyperdrive refuses a connection string without a password; a server with trust auth
  // (the machine's PostgreSQL 15 in CI) ignores whatever password is given.
  const url = new URL(options.databaseUrl);
  if (!url.password) url.password = 'unused-with-trust-auth';
  const bindings: Record<string, unknown> = {
    HYPERDRIVE: { type: 'hyperdrive', id: 'local-test', localConnectionString: url.toString() },
  };
  for (const [name, value] of Object.entries(options.vars ?? {})) bindings[name] = { type: 'plain_text', value };
  for (const [name, value] of Object.entries(options.secrets)) bindings[name] = { type: 'secret_text', value };

  const worker = await unstable_startWorker({
    config: WRANGLER_TOML,
    envFiles: [],
    sendMetrics: false,
    bindings: bindings as never,
    dev: {
      remote: false,
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      liveReload: false,
      persist: false,
      logLevel: 'none',
    },
  });
  try {
    await worker.ready;
    const url = (await worker.url).toString().replace(/\/$/, '');
    return { url, stop: () => worker.dispose() };
  } catch (error) {
    await worker.dispose().catch(() => {});
    throw error;
  }
}
