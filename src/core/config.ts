import { z } from 'zod';

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

/**
 * Delays in **seconds** before each retry after the first attempt: 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h — 8 attempts in all, about 27.6 h end to end (CONTRACT "Outbound webhooks",
 * the schedule Standard Webhooks/Svix publish).
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];


/**
 * Every setting Switchyard reads, with its default. Parsed once by the entry file from
 * `process.env` (Node) or the Worker's `env` (Cloudflare), then passed down; nothing reads
 * the environment anywhere else. CONTRACT.md "Configuration" fixes the first five names.
 */
const configSchema = z.object({
  /** PostgreSQL URL. Unset: `npm start` runs an embedded PostgreSQL under the data dir. */
  DATABASE_URL: z.string().url().optional(),
  /** HTTP port. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to listen on; the Docker image sets 0.0.0.0. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Bearer token for /admin/*. Unset: generated once and kept in the data dir. */
  SWITCHYARD_ADMIN_TOKEN: z.string().min(16).optional(),
  /** base64 of 32 random bytes; encrypts secrets at rest. Required in production. */
  SWITCHYARD_MASTER_KEY: z.string().optional(),
  /** `true` lets endpoints be private/loopback addresses and plain http (development, tests). */
  SWITCHYARD_ALLOW_PRIVATE_URLS: boolean.default(false),
  /** Where the embedded PostgreSQL, the dev master key and the dev admin token live. */
  SWITCHYARD_DATA_DIR: z.string().min(1).default('./.switchyard'),
  /** Public base URL (https://hooks.example.com); makes `inboundUrl` absolute. */
  SWITCHYARD_PUBLIC_URL: z.string().url().optional(),
  /** Largest inbound body accepted, in bytes (1 MiB). */
  SWITCHYARD_INBOUND_MAX_BYTES: positiveInt.default(1_048_576),
  /**
   * Deepest nesting of arrays and objects accepted in an inbound JSON body (400
   * payload_too_deep beyond). PSP events nest under 15 levels.
   */
  SWITCHYARD_INBOUND_MAX_DEPTH: z.coerce.number().int().min(2).max(1000).default(64),
  /** Largest request body accepted on /v1 and /admin, in bytes (1 MiB; 413 payload_too_large beyond, unread). */
  SWITCHYARD_API_MAX_BYTES: positiveInt.default(1_048_576),
  /**
   * Node only: group concurrent inbound requests into one statement, one processing job and
   * one commit (src/inbound/batcher.ts). `false`: every request commits alone, as on Workers.
   */
  SWITCHYARD_INBOUND_BATCHING: boolean.default(true),
  /** Size cap of an inbound batch, in rows (events): a batch leaves as soon as this many wait. */
  SWITCHYARD_INBOUND_BATCH_MAX_ROWS: z.coerce.number().int().min(1).max(1000).default(100),
  /** Longest a request waits for others to share its batch while the database has a free slot, ms. */
  SWITCHYARD_INBOUND_BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(50).default(1),
  /** Inbound batches committing at once (database connections they use); more requests wait and join the next batch. */
  SWITCHYARD_INBOUND_BATCH_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(2),
  /**
   * Longest an inbound request waits for its event to be stored, ms: then it is answered
   * 503 store_unavailable (the PSP retries; if the store did land meanwhile, the retry is
   * acked as a duplicate). Below PSPs' own webhook timeouts (10 s and up).
   */
  SWITCHYARD_INBOUND_STORE_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(8000),
  /**
   * How long the inbound route keeps a source and its secrets in memory, ms (0: read them
   * on every request). A secret rotation made through this process applies at once; other
   * processes see it after this long.
   */
  SWITCHYARD_SOURCE_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /**
   * Inbound events one processing job may apply in one transaction: its own and up to this
   * many − 1 other received events of the same merchant (src/inbound/process-event.task.ts).
   * 1: one event per job.
   */
  SWITCHYARD_PROCESS_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(50),
  /** Jobs one worker process runs at once. */
  SWITCHYARD_WORKER_CONCURRENCY: positiveInt.default(32),
  /** Timeout of one outbound delivery attempt, in ms. */
  SWITCHYARD_DELIVERY_TIMEOUT_MS: positiveInt.default(15_000),
  /** Delays between delivery attempts, seconds, comma-separated (±20 % jitter is added). */
  SWITCHYARD_RETRY_SCHEDULE: z
    .string()
    .regex(/^\d+(\s*,\s*\d+)*$/, 'a comma-separated list of whole seconds')
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .optional(),
  /** Consecutive failed attempts after which an endpoint's circuit opens (no attempts until it cools down). */
  SWITCHYARD_CIRCUIT_FAILURES: positiveInt.default(10),
  /** How long an open circuit waits before one probe attempt, seconds. */
  SWITCHYARD_CIRCUIT_COOLDOWN_SECONDS: positiveInt.default(60),
  /** An endpoint failing every attempt for this long is disabled (5 days), seconds. */
  SWITCHYARD_DISABLE_AFTER_SECONDS: positiveInt.default(5 * 24 * 60 * 60),
  /** A job locked longer than this is taken as abandoned by a dead worker and unlocked, seconds. */
  SWITCHYARD_JOB_RECOVERY_SECONDS: positiveInt.default(45),
  /**
   * How long a stopping process (SIGTERM/SIGINT, `Gateway.stop()`) waits for in-flight
   * requests and jobs, ms. Past it, what is left is logged and abandoned and the process
   * exits non-zero; jobs left locked are unlocked by the recovery sweep
   * (SWITCHYARD_JOB_RECOVERY_SECONDS) of any worker still running or started later.
   */
  SWITCHYARD_SHUTDOWN_TIMEOUT_MS: positiveInt.default(30_000),
  /**
   * Longest start-up waits for the database to answer its first query, seconds: then the
   * process stops with a message naming the host (a blackholed address, a port that is not
   * PostgreSQL).
   */
  SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt.default(30),
  /** Longest the HTTP server waits for a whole request (headers and body), ms; then 408 (node:http `requestTimeout`). */
  SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  /** Longest the HTTP server waits for a request's headers, ms; then 408 (node:http `headersTimeout`, at most the request timeout). */
  SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  /** How long an idle keep-alive connection stays open, ms (node:http `keepAliveTimeout`); keep it above a load balancer's idle timeout. */
  SWITCHYARD_HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),
  /** Connections the HTTP server holds at once; further ones are closed on arrival (node:http `maxConnections`). */
  SWITCHYARD_HTTP_MAX_CONNECTIONS: positiveInt.default(4096),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
});

/** The parsed settings. */
export type Config = z.infer<typeof configSchema> & { retryScheduleSeconds: readonly number[] };

/**
 * Parses settings from an environment record (`process.env` or a Worker `env`).
 * Throws an Error listing every invalid variable, so a misconfigured process stops at
 * start-up rather than at the first request.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return {
    ...parsed.data,
    retryScheduleSeconds: parsed.data.SWITCHYARD_RETRY_SCHEDULE ?? DEFAULT_RETRY_SCHEDULE_SECONDS,
  };
}
