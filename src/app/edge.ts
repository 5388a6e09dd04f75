// The Cloudflare Workers entry (wrangler.toml `main`): inbound and health routes over a
// Hyperdrive binding. The jobs it queues run in the Node worker (`switchyard work`).
import { Hono } from 'hono';
import postgres from 'postgres';
import { systemClock } from '../core/clock.js';
import { loadConfig, type Config } from '../core/config.js';
import { randomBytes, toHex } from '../core/crypto.js';
import type { AppEnv, Deps, Log } from '../core/deps.js';
import { onError, problemBody, problemResponse } from '../core/http/problem.js';
import { notFoundOrNotAllowed } from '../core/http/allowed-methods.js';
import { requestContext } from '../core/http/request-context.js';
import { healthRoutes } from './routes/health.js';
import { REDACTED, SECRET_KEY } from '../core/redact.js';
import { createSecretBox, type SecretBox } from '../core/secrets.js';
import { ingestRoutes } from '../inbound/routes/ingest.js';
import { checkMasterKey } from '../core/master-key.js';

/** The Hyperdrive binding: a connection string to the pooled database (or, under `wrangler dev`, to `localConnectionString`). */
interface HyperdriveBinding {
  readonly connectionString: string;
}

/** The Worker's `env`: the `HYPERDRIVE` binding, plus vars and secrets read by {@link loadConfig}. */
interface EdgeEnv {
  HYPERDRIVE: HyperdriveBinding;
  SWITCHYARD_MASTER_KEY?: string;
  [name: string]: unknown;
}

/** The part of a Worker's ExecutionContext this entry uses. */
interface EdgeContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** What lives as long as the isolate: parsed settings, the secret box, the logger. No I/O objects. */
interface IsolateDeps {
  config: Config;
  secretBox: SecretBox;
  logger: Log;
  adminToken: string;
}

/** What the edge app's `fetch` takes as its `env` argument: the request's Deps. */
interface EdgeBindings {
  deps: Deps;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Field values as JSON can carry them: Errors as name, message and stack; secret-named fields redacted; four levels deep at most. */
function loggable(value: unknown, key = '', depth = 0): unknown {
  if (key && SECRET_KEY.test(key)) return REDACTED;
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
    if (depth >= 4) return '[object]';
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, loggable(v, k, depth + 1)]));
  }
  return value;
}

/**
 * A {@link Log} writing one JSON line per entry through `console` (Workers Logs indexes
 * JSON lines), at `level` and above; fields named like secrets are redacted.
 */
function consoleLog(level: Config['LOG_LEVEL'], bindings: Record<string, unknown> = {}): Log {
  const min = level === 'silent' ? Infinity : LEVELS.indexOf(level);
  const write = (at: (typeof LEVELS)[number], obj: object, msg?: string): void => {
    if (LEVELS.indexOf(at) < min) return;
    const line = JSON.stringify({ level: at, time: new Date().toISOString(), ...bindings, ...(loggable(obj) as object), msg });
    if (at === 'error') console.error(line);
    else if (at === 'warn') console.warn(line);
    else console.log(line);
  };
  return {
    debug: (obj, msg) => write('debug', obj, msg),
    info: (obj, msg) => write('info', obj, msg),
    warn: (obj, msg) => write('warn', obj, msg),
    error: (obj, msg) => write('error', obj, msg),
    child: (more) => consoleLog(level, { ...bindings, ...more }),
  };
}

/** The string entries of a Worker env: vars and secrets, not bindings. */
function settingsOf(env: EdgeEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

async function buildIsolateDeps(env: EdgeEnv): Promise<IsolateDeps> {
  const config = loadConfig(settingsOf(env));
  if (!config.SWITCHYARD_MASTER_KEY) {
    throw new Error("SWITCHYARD_MASTER_KEY is not set: `wrangler secret put SWITCHYARD_MASTER_KEY` (the Node service's key).");
  }
  return {
    config,
    secretBox: await createSecretBox(config.SWITCHYARD_MASTER_KEY),
    logger: consoleLog(config.LOG_LEVEL, { service: 'switchyard-edge' }),
    // No /admin routes here; a random token nobody knows keeps Deps honest.
    adminToken: `never_${toHex(randomBytes(32))}`,
  };
}

// Keyed by env (one per isolate): config parse and key import happen once; only I/O-free values.
const isolates = new WeakMap<EdgeEnv, Promise<IsolateDeps>>();

function isolateDeps(env: EdgeEnv): Promise<IsolateDeps> {
  let pending = isolates.get(env);
  if (!pending) {
    pending = buildIsolateDeps(env);
    pending.catch(() => isolates.delete(env));
    isolates.set(env, pending);
  }
  return pending;
}

/**
 * The edge app: health and `POST /inbound/{sourceId}`. It holds no I/O object, so one app
 * serves the isolate; each request's {@link Deps} come in as the `env` argument.
 *
 * @example
 * const res = await edgeApp().fetch(request, { deps });
 */
export function edgeApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(
    '*',
    requestContext((c) => (c.env as EdgeBindings).deps),
  );
  app.onError(onError);
  app.notFound(notFoundOrNotAllowed(app));
  app.route('/', healthRoutes());
  app.route('/inbound', ingestRoutes());
  return app;
}

let app: Hono<AppEnv> | undefined;

// Per isolate, as for the deps: the master key is checked against the database once, before the first request is
// served. A failed check is forgotten, so the next request checks again (the database may have been unreachable).
const keyChecks = new WeakMap<EdgeEnv, Promise<void>>();

/**
 * Resolves once `box` is known to open the secrets stored in the database (`checkMasterKey`, as `switchyard serve`
 * checks at start); rejects with the Node CLI's message when it cannot, or with the database's error.
 */
function masterKeyChecked(env: EdgeEnv, sql: postgres.Sql, box: SecretBox): Promise<void> {
  let pending = keyChecks.get(env);
  if (!pending) {
    pending = checkMasterKey(sql, box, undefined);
    pending.catch(() => keyChecks.delete(env));
    keyChecks.set(env, pending);
  }
  return pending;
}

export default {
  /**
   * One request, on a postgres.js client of its own: Workers forbid sharing sockets across requests. Until the
   * isolate's settings parse and its master key opens the database's secrets (checked once per isolate, as the Node
   * CLI checks at start), every request is answered 500 `internal_error` and the reason logged.
   */
  async fetch(request: Request, env: EdgeEnv, ctx: EdgeContext): Promise<Response> {
    let base: IsolateDeps;
    try {
      base = await isolateDeps(env);
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', msg: 'edge configuration is invalid', err: loggable(error) }));
      return problemResponse(problemBody('internal_error', 500, 'Something went wrong on our side. It has been logged.'));
    }
    const sql = postgres(env.HYPERDRIVE.connectionString, {
      max: 1,
      // Unnamed statements leave nothing on a connection Hyperdrive hands on; no array
      // types are read here, so skip the type-lookup round trip.
      prepare: false,
      fetch_types: false,
      onnotice: () => {},
    });
    try {
      try {
        await masterKeyChecked(env, sql, base.secretBox);
      } catch (error) {
        // Refuse to serve rather than answer every signed event 401 with secrets it cannot open.
        base.logger.error({ err: error }, 'edge refuses to serve: the master key check failed');
        return problemResponse(problemBody('internal_error', 500, 'Something went wrong on our side. It has been logged.'));
      }
      app ??= edgeApp();
      const bindings: EdgeBindings = { deps: { ...base, sql, clock: systemClock } };
      return await app.fetch(request, bindings);
    } finally {
      ctx.waitUntil(sql.end({ timeout: 5 }));
    }
  },
};
