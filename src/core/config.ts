import { z } from 'zod';

const boolean = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

// Whole days, 0 = forever; 100 years at most.
const retentionDays = z.coerce.number().int().min(0).max(36_500).default(30);

/** Retry delays, seconds: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, so 8 attempts (docs/http-api.md "Outbound webhooks"; Svix). */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];

/** Every setting with its default; README.md "Configuration" fixes the first five names. */
const configSchema = z
  .object({
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
    /** Deepest array/object nesting accepted in an inbound body (400 payload_too_deep beyond); PSP events nest under 15. */
    SWITCHYARD_INBOUND_MAX_DEPTH: z.coerce.number().int().min(2).max(1000).default(64),
    /** Minutes between two continuous checks of every merchant's ledger (a cron task; a full pass once a day). */
    SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES: z.coerce.number().int().min(1).max(59).default(5),
    /** Largest request body accepted on /v1 and /admin, in bytes (1 MiB; 413 beyond). */
    SWITCHYARD_API_MAX_BYTES: positiveInt.default(1_048_576),
    /** Node only: concurrent inbound requests share one statement and commit (src/inbound/batcher.ts); `false`: each commits alone. */
    SWITCHYARD_INBOUND_BATCHING: boolean.default(true),
    /** Size cap of an inbound batch, in rows (events). */
    SWITCHYARD_INBOUND_BATCH_MAX_ROWS: z.coerce.number().int().min(1).max(1000).default(100),
    /** Longest a request waits for others to share its batch while a batch slot is free, ms. */
    SWITCHYARD_INBOUND_BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(50).default(1),
    /** Inbound batches committing at once (database connections they use). */
    SWITCHYARD_INBOUND_BATCH_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(2),
    /** Longest an inbound request waits for its store, ms, then 503 store_unavailable; keep it below PSPs' timeouts (10 s and up). */
    SWITCHYARD_INBOUND_STORE_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(8000),
    /** How long the inbound route caches a source and its secrets, ms (0: no cache); other processes see a rotation after this. */
    SWITCHYARD_SOURCE_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
    /** Most inbound events one processing transaction applies: the processing jobs waiting together share one up to this many. */
    SWITCHYARD_PROCESS_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
    /** Processing transactions one worker process runs at once; the processing jobs waiting meanwhile share the next. */
    SWITCHYARD_PROCESS_IN_FLIGHT: z.coerce.number().int().min(1).max(32).default(2),
    /**
     * `switchyard all`: the processing job of events just stored is committed locked by this process's worker and
     * processed right after the ack (no NOTIFY, fetch or separate completion); false queues it for any worker.
     */
    SWITCHYARD_PROCESS_HANDOFF: boolean.default(true),
    /**
     * Verify or fetch: PSP object reads per merchant and minute for its `trust: fetch` sources, across processes;
     * past it their events wait for the next minute (never failed).
     */
    SWITCHYARD_PSP_FETCH_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
    /** Jobs one worker process runs at once. */
    SWITCHYARD_WORKER_CONCURRENCY: positiveInt.default(32),
    /**
     * Jobs a worker process fetches and locks in one query, handed to its concurrent jobs as they free up
     * (graphile-worker's local queue; 1 or less: each job fetches its own). Default: the concurrency.
     */
    SWITCHYARD_WORKER_LOCAL_QUEUE: z.coerce.number().int().min(0).max(1000).default(32),
    /** Timeout of one outbound delivery attempt, in ms. */
    SWITCHYARD_DELIVERY_TIMEOUT_MS: positiveInt.default(15_000),
    /** Delays between delivery attempts, seconds, comma-separated (±20 % jitter is added). */
    SWITCHYARD_RETRY_SCHEDULE: z
      .string()
      .regex(/^\d+(\s*,\s*\d+)*$/, 'a comma-separated list of whole seconds')
      .transform((s) => s.split(',').map((x) => Number(x.trim())))
      .optional(),
    /** Consecutive failed attempts after which an endpoint's circuit opens. */
    SWITCHYARD_CIRCUIT_FAILURES: positiveInt.default(10),
    /** How long an open circuit waits before one probe attempt, seconds. */
    SWITCHYARD_CIRCUIT_COOLDOWN_SECONDS: positiveInt.default(60),
    /** An endpoint failing every attempt this long is disabled, seconds (5 days). */
    SWITCHYARD_DISABLE_AFTER_SECONDS: positiveInt.default(5 * 24 * 60 * 60),
    /** Operational webhooks (README "Operational webhooks"): the operator's URL; unset, none are sent. */
    SWITCHYARD_OPERATOR_WEBHOOK_URL: z.string().url().optional(),
    /** Their signing secret, `whsec_` + base64 (Standard Webhooks); required with the URL. */
    SWITCHYARD_OPERATOR_WEBHOOK_SECRET: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'whsec_ followed by base64 (e.g. `whsec_$(openssl rand -base64 24)`)')
      .optional(),
    /** `inbound.source_failing`: a source's share of requests failing verification (0–1) that alerts… */
    SWITCHYARD_SOURCE_FAILING_RATE: z.coerce.number().gt(0).max(1).default(0.5),
    /** …once it had at least this many requests… */
    SWITCHYARD_SOURCE_FAILING_MIN_REQUESTS: positiveInt.default(20),
    /** …within this window, seconds (one alert per source and window). */
    SWITCHYARD_SOURCE_FAILING_WINDOW_SECONDS: positiveInt.default(300),
    /** A job locked longer than this is taken as abandoned and unlocked, seconds. */
    SWITCHYARD_JOB_RECOVERY_SECONDS: positiveInt.default(45),
    /** How long a stopping process waits for in-flight requests and jobs, ms; then it exits non-zero. */
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: positiveInt.default(30_000),
    /** Longest start-up waits for the database's first answer, seconds. */
    SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt.default(30),
    /** Longest the HTTP server waits for a whole request, ms; then 408 (node:http `requestTimeout`). */
    SWITCHYARD_HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
    /** Longest the HTTP server waits for a request's headers, ms; then 408 (node:http `headersTimeout`). */
    SWITCHYARD_HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
    /** Idle keep-alive timeout, ms (node:http `keepAliveTimeout`); keep it above a load balancer's. */
    SWITCHYARD_HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),
    /** Connections the HTTP server holds at once (node:http `maxConnections`). */
    SWITCHYARD_HTTP_MAX_CONNECTIONS: positiveInt.default(4096),
    /**
     * Days raw inbound bodies and headers are kept (GET /v1/inbound-events/{id} shows null after), at least this long and
     * at most a month more (whole month partitions are dropped); 0 keeps them forever. The inbound events stay.
     */
    SWITCHYARD_RETENTION_INBOUND_BODY_DAYS: retentionDays,
    /** Days event payloads are kept (GET /v1/events/{id} answers 410 event_expired after); 0 forever. The events stay. */
    SWITCHYARD_RETENTION_EVENT_PAYLOAD_DAYS: retentionDays,
    /** Days attempt response bodies are kept (null in the attempt list after); 0 forever. The attempts stay. */
    SWITCHYARD_RETENTION_ATTEMPT_RESPONSE_DAYS: retentionDays,
    /** Requests per second one API key may make on /v1, on average (README "Rate limits"); shared by every process. */
    SWITCHYARD_API_RATE_PER_SECOND: z.coerce.number().positive().max(100_000).default(100),
    /** Requests one API key may make at once before the per-second rate applies. */
    SWITCHYARD_API_RATE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
    /** Inbound requests failing verification allowed per minute per source and client address; past it 429, unverified. */
    SWITCHYARD_INBOUND_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(20),
    /**
     * Behind a proxy: the header holding the client's address (`x-forwarded-for`: its last entry, the one your proxy
     * added). Unset: the socket's address on Node, `cf-connecting-ip` on Workers.
     */
    SWITCHYARD_CLIENT_ADDRESS_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .toLowerCase()
      .optional(),
    /**
     * The portal behind a proxy (README "The portal"): the addresses or CIDR ranges of the proxies whose
     * `X-Forwarded-For` is believed, comma-separated. A request from one of them is the client's whose address is the
     * header's last entry that is not itself a listed proxy. Unset (the default): the socket's address, header or not.
     */
    SWITCHYARD_TRUSTED_PROXIES: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
      )
      .pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'an IP address or CIDR range' })).min(1))
      .optional(),
    /** pino log level. */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `production` requires SWITCHYARD_MASTER_KEY and DATABASE_URL. */
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  })
  .superRefine((c, ctx) => {
    if (c.SWITCHYARD_OPERATOR_WEBHOOK_URL !== undefined && c.SWITCHYARD_OPERATOR_WEBHOOK_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SWITCHYARD_OPERATOR_WEBHOOK_SECRET'],
        message: 'required when SWITCHYARD_OPERATOR_WEBHOOK_URL is set',
      });
    }
  });

/** The parsed settings. */
export type Config = z.infer<typeof configSchema> & { retryScheduleSeconds: readonly number[] };

/** Parses settings from `process.env` or a Worker `env` (empty means unset); throws an Error listing every invalid variable. */
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
