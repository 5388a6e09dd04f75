import type { Dispatcher } from 'undici';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Result } from './result.js';
import type { RiskRuleCache } from './risk/assess.js';
import type { Sql } from './db/client.js';
import type { HmacBackend } from './crypto.js';
import type { SecretBox } from './secrets.js';
import type { Permissions } from './auth/permissions.js';
import type { ApiKeyAuth } from './auth/api-key-store.js';
import type { AuditActor } from './audit/audit-store.js';
import type { PspObjectReader } from './psp-objects.js';

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

/** How one delivery attempt ended: the Standard Webhooks class of the answer, or `error` (no answer at all). */
export type DeliveryOutcome = 'success' | 'retry' | 'throttle' | 'gone' | 'error';
/**
 * How a verify-or-fetch read of one PSP object ended: `found`, `not_found` and `refused` (the event is applied or
 * failed), `unavailable` (timeout, network error, 5xx, 429: read again later), `over_budget` (not read: the merchant's
 * SWITCHYARD_PSP_FETCH_PER_MINUTE used up), `given_up` (unavailable once more after the last retry: the event failed).
 */
export type PspFetchOutcome = 'found' | 'not_found' | 'refused' | 'unavailable' | 'over_budget' | 'given_up';

/** Why an endpoint was disabled: 410 Gone, or failing for SWITCHYARD_DISABLE_AFTER_SECONDS. */
export type DisableReason = 'gone' | 'failing';

/**
 * Counters for `GET /metrics`, an interface so Workers code needs no prom-client (Node: src/app/node/metrics.ts).
 * Methods never throw; durations in seconds.
 * @example
 * c.var.deps.metrics?.inbound('stripe', 'stored', 0.012);
 */
export interface MetricsSink {
  /** One inbound request answered; `provider` is 'unknown' when the source is not found. */
  inbound(provider: string, outcome: InboundOutcome, seconds: number): void;
  /** One graphile-worker job finished; `error`: it threw (and will be retried). */
  job(task: string, outcome: 'ok' | 'error'): void;
  delivery(outcome: DeliveryOutcome, seconds: number): void;
  endpointDisabled(reason: DisableReason): void;
  /** A ledger check (the continuous check task, or `GET /v1/ledger/check`) found the ledger unbalanced. */
  ledgerCheckFailed(): void;
  /** Verify or fetch: `count` PSP objects of `provider` whose read ended `outcome` (README "Verify or fetch"). */
  pspFetch(provider: string, outcome: PspFetchOutcome, count: number): void;
  /** Verify or fetch: one call to `provider`'s API reading a source's objects took `seconds`. */
  pspFetchDuration(provider: string, seconds: number): void;
  /** The Prometheus exposition, database gauges included; `GET /metrics` is mounted only when present (Node). */
  render?(): Promise<{ contentType: string; body: string }>;
}

/** Everything a handler or task needs, built once per process (or isolate) by the entry file. */
export interface Deps {
  sql: Sql;
  config: Config;
  clock: Clock;
  logger: Log;
  /** Encrypts and decrypts stored secrets under the master key. */
  secretBox: SecretBox;
  /** Bearer token for /admin/*. */
  adminToken: string;
  /** Node only: the SSRF-guarded undici Agent for deliveries. */
  dispatcher?: Dispatcher;
  /**
   * Node only: SSRF check (src/outbound/ssrf.ts) of a URL a merchant gives (`apiBaseUrl`): the URL (with a `warning`
   * when its host does not resolve now) or the reason it is refused; absent, every URL is refused.
   */
  checkOutboundUrl?(
    url: string,
    opts: { allowPrivate: boolean; requireHttps: boolean },
  ): Promise<Result<{ url: URL; warning?: string }, string>>;
  /** Node only: fetch for PSP calls via the SSRF-guarded dispatcher (checked at connect: no DNS rebinding), no redirects. */
  pspFetch?: typeof fetch;
  /**
   * Reads objects from a source's PSP API for sources with `trust: fetch` (src/payments-api/psp-objects.ts);
   * absent, their events wait (retried later) until a process that has it processes them.
   */
  readPspObjects?: PspObjectReader;
  /** Node only: the raw body (≤ `maxBytes`, else 'too_large') from the IncomingMessage in `c.env`; undefined: read the Web Request. */
  readRawBody?(env: unknown, maxBytes: number): Promise<Uint8Array | 'too_large'> | undefined;
  /** Node only: node:crypto's HMAC for signing outbound messages; absent, Web Crypto's (same bytes). */
  hmac?: HmacBackend;
  /** Counters and histograms for `GET /metrics`; absent, nothing is counted. */
  metrics?: MetricsSink;
  /** Compiled risk rules per merchant and rule version (src/core/risk/assess.ts); absent, rules compile on each use. */
  riskRules?: RiskRuleCache;
}

/** The merchant an API key authenticated. */
interface MerchantContext {
  id: string;
  name: string;
  /** The id (`key_…`) of the API key the request carried. */
  apiKeyId: string;
}

/** Hono's environment type for Switchyard apps. */
export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    /** `deps.logger` bound to this request's `requestId`. */
    log: Log;
    merchant: MerchantContext;
    /** The API key a `/v1` request authenticated with; `permissions` null: a full key. */
    apiKey: { id: string; prefix: string; permissions: Permissions | null };
    /**
     * The key a `/v1` request's bearer token hashes to, read by the rate limit in the same statement as its take
     * (`apiRateLimit`), so `requireMerchant` need not read it again; absent when the rate limit could not run.
     */
    apiKeyLookup: { keyHash: string; key: ApiKeyAuth | undefined } | undefined;
    /** Who the request's audit row names: set by whichever middleware checked its credentials. */
    auditActor: AuditActor & { merchantId: string | null };
  };
}
