// (node) Builds a running Switchyard from a Config: database (embedded when DATABASE_URL
// is unset), migrations, secrets, HTTP server and worker. Used by src/server.ts and the CLI.
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import type { Runner } from 'graphile-worker';
import { systemClock } from './core/clock.js';
import type { Config } from './core/config.js';
import { randomBytes, toBase64Url } from './core/crypto.js';
import { createSql, type Sql } from './core/db/client.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './core/db/embedded.js';
import { migrate } from './core/db/migrate.js';
import { createApp } from './core/http/app.js';
import type { Deps } from './core/http/env.js';
import { startRunner } from './core/jobs/runner.js';
import { loadOrCreateSecretFile } from './core/local-state.js';
import { createLogger, type Logger } from './core/logger.js';
import { createMetrics } from './core/metrics.js';
import { createSecretBox, generateMasterKey } from './core/secrets.js';
import { createGuardedAgent } from './outbound/ssrf.js';

/** A started gateway and how to stop it. */
export interface Gateway {
  url: string;
  adminToken: string;
  databaseUrl: string;
  embedded: boolean;
  deps: Deps;
  /** Stops accepting requests, lets in-flight requests and jobs finish, then closes the database. */
  stop(): Promise<void>;
}

/** The newest sql/ migration, which /readyz expects to find applied. */
export function newestMigration(): string | undefined {
  const dir = fileURLToPath(new URL('../sql/', import.meta.url));
  return readdirSync(dir).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort().at(-1);
}

/**
 * Connects (or starts the embedded PostgreSQL), migrates, and returns the pieces every
 * role needs, with this process's metrics registry (`deps.metrics`, served at `GET /metrics`). Throws with an actionable message when production lacks a master key or
 * a DATABASE_URL.
 */
export async function prepare(config: Config, logger: Logger): Promise<{ deps: Deps; databaseUrl: string; embedded?: EmbeddedDatabase; sql: Sql }> {
  if (config.NODE_ENV === 'production' && !config.SWITCHYARD_MASTER_KEY) {
    throw new Error('SWITCHYARD_MASTER_KEY is required in production (base64 of 32 random bytes: `openssl rand -base64 32`).');
  }
  if (config.NODE_ENV === 'production' && !config.DATABASE_URL) {
    throw new Error('DATABASE_URL is required in production; the embedded PostgreSQL is for development.');
  }
  const dataDir = path.resolve(config.SWITCHYARD_DATA_DIR);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(path.join(dataDir, 'pg'), {
      onLog: (line) => logger.debug({ postgres: line.trim() }, 'embedded postgres'),
    });
    databaseUrl = embedded.url;
  }
  const sql = createSql(databaseUrl, { max: 20 });
  await migrate(sql, databaseUrl);
  const masterKey = config.SWITCHYARD_MASTER_KEY ?? (await loadOrCreateSecretFile(dataDir, 'master.key', generateMasterKey));
  const adminToken =
    config.SWITCHYARD_ADMIN_TOKEN ?? (await loadOrCreateSecretFile(dataDir, 'admin-token', () => `adm_${toBase64Url(randomBytes(24))}`));
  const deps: Deps = {
    sql,
    config,
    clock: systemClock,
    logger,
    secretBox: await createSecretBox(masterKey),
    adminToken,
    dispatcher: createGuardedAgent({ allowPrivate: config.SWITCHYARD_ALLOW_PRIVATE_URLS }),
    metrics: createMetrics(sql, { logger, process: true }),
  };
  return { deps, databaseUrl, sql, ...(embedded ? { embedded } : {}) };
}

/**
 * Runs the whole gateway in one process: API + inbound route on `HOST:PORT`, and a
 * graphile-worker runner when `withWorker`.
 */
export async function startGateway(config: Config, options: { withWorker?: boolean; logger?: Logger } = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const { deps, databaseUrl, embedded, sql } = await prepare(config, logger);
  const app = createApp(deps, { expectedMigration: newestMigration() });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
  let runner: Runner | undefined;
  if (options.withWorker ?? true) {
    runner = await startRunner(deps, { connectionString: databaseUrl, concurrency: config.SWITCHYARD_WORKER_CONCURRENCY });
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    adminToken: deps.adminToken,
    databaseUrl,
    embedded: embedded !== undefined,
    deps,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (runner) await runner.stop();
        await sql.end({ timeout: 5 });
        await deps.dispatcher?.close();
        if (embedded) await embedded.stop();
      })();
      return stopping;
    },
  };
}
