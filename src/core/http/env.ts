import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import type { SecretBox } from '../secrets.js';

/** The few logger methods Switchyard calls; pino's Logger satisfies it, so does a Worker's console shim. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Log;
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
}

/** The merchant an API key authenticated. */
export interface MerchantContext {
  id: string;
  name: string;
}

/** Hono's environment type for Switchyard apps. */
export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    merchant: MerchantContext;
  };
}
