import type { Dispatcher } from 'undici';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Result } from './result.js';
import type { Sql } from './db/client.js';
import type { HmacBackend } from './crypto.js';
import type { SecretBox } from './secrets.js';

/** The few logger methods Switchyard calls; pino's Logger satisfies it, so does a Worker's console shim. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/** How one `POST /inbound/{sourceId}` ended: `stored`, `duplicate`, or the problem `code` it answered. */
export type InboundOutcome = 'stored' | 'duplicate' | (string & {});

/** How one delivery attempt ended: the Standard Webhooks class of the answer, or `error` (no answer: timeout, refused, DNS, SSRF block). */
export type DeliveryOutcome = 'success' | 'retry' | 'throttle' | 'gone' | 'error';

/** Why the delivery worker disabled an endpoint: it answered 410 Gone, or every attempt failed for SWITCHYARD_DISABLE_AFTER_SECONDS. */
export type DisableReason = 'gone' | 'failing';

/**
 * Where code reports what it did, for `GET /metrics`. Types only, so the inbound route
 * (which also runs on Workers) reports without importing prom-client; the Node
 * implementation is `createMetrics` in src/core/metrics.ts. Every method is cheap and never
 * throws. Durations are seconds.
 *
 * @example
 * c.var.deps.metrics?.inbound('stripe', 'stored', 0.012);
 */
export interface MetricsSink {
  /** One inbound request answered, for `provider` ('unknown' when the source is not found), after `seconds`. */
  inbound(provider: string, outcome: InboundOutcome, seconds: number): void;
  /** One graphile-worker job of `task` finished: `ok`, or `error` (it threw; graphile-worker retries it). */
  job(task: string, outcome: 'ok' | 'error'): void;
  /** One delivery attempt sent and answered (or not) after `seconds`. */
  delivery(outcome: DeliveryOutcome, seconds: number): void;
  /** The delivery worker disabled an endpoint. */
  endpointDisabled(reason: DisableReason): void;
  /** `GET /v1/ledger/check` found the ledger unbalanced. */
  ledgerCheckFailed(): void;
  /**
   * The Prometheus exposition of everything reported so far, plus the gauges read from the
   * database now. Present on the Node implementation; `createApp` mounts `GET /metrics`
   * only when it is.
   */
  render?(): Promise<{ contentType: string; body: string }>;
}

/**
 * Everything a request handler or a task needs, built once per process (or isolate) by the
 * entry file and handed down; there are no module-level singletons.
 */
export interface Deps {
  sql: Sql;
  config: Config;
  clock: Clock;
  logger: Log;
  /** Encrypts and decrypts stored secrets under the master key. */
  secretBox: SecretBox;
  /** Bearer token for /admin/*. */
  adminToken: string;
  /** undici dispatcher for outbound deliveries (the SSRF-guarded Agent); Node only. */
  dispatcher?: Dispatcher;
  /**
   * Node only: the SSRF check of a URL a merchant gives Switchyard to call (a source's
   * `apiBaseUrl`), `checkEndpointUrl` of src/outbound/ssrf.ts: http(s) only, no
   * credentials, https when `requireHttps`, and unless `allowPrivate` no localhost, no
   * forbidden IP literal and no name resolving to a forbidden address. Returns the parsed
   * URL or a reason fit to show the merchant. Absent (Workers, where the sources routes are
   * not mounted), such a URL is refused.
   */
  checkOutboundUrl?(url: string, opts: { allowPrivate: boolean; requireHttps: boolean }): Promise<Result<URL, string>>;
  /**
   * Node only: the fetch of the payments API connectors' PSP calls: undici's fetch through
   * the SSRF-guarded dispatcher (every connection's address checked, so DNS rebinding and
   * `apiBaseUrl`s stored before the check are caught), redirects never followed. Absent, the
   * global fetch (tests: msw intercepts it). `PaymentCommandOptions.fetch` wins over it.
   */
  pspFetch?: typeof fetch;
  /**
   * Node only: reads a request's raw body, at most `maxBytes` ('too_large' beyond, the rest
   * unread), straight from @hono/node-server's IncomingMessage (`env` is the Hono `c.env`),
   * which skips building a Web Request and stream for it; undefined when `env` carries no
   * IncomingMessage (then the caller reads the Web Request).
   */
  readRawBody?(env: unknown, maxBytes: number): Promise<Uint8Array | 'too_large'> | undefined;
  /** Node only: node:crypto's synchronous HMAC, for signing outbound messages; absent, Web Crypto's (the same bytes). */
  hmac?: HmacBackend;
  /** Counters and histograms for `GET /metrics`; absent, nothing is counted. */
  metrics?: MetricsSink;
}

/** The merchant an API key authenticated. */
interface MerchantContext {
  id: string;
  name: string;
}

/** Hono's environment type for Switchyard apps. */
export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    /** `deps.logger` bound to this request's `requestId`; every line about the request goes through it. */
    log: Log;
    merchant: MerchantContext;
  };
}
