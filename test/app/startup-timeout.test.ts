// DATABASE_URL at something that accepts TCP and never answers, or answers something that
// is not PostgreSQL: start-up gives up after SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS
// with a message naming host:port (never the password), in process and as `switchyard all`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { generateMasterKey } from '../../src/core/secrets.js';
import { startGateway } from '../../src/app/gateway.js';
import { quietLogger } from '../app.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = path.join(root, 'node_modules/.bin/tsx');
const PASSWORD = 'hunter2-not-to-be-printed';

let dataDir: string;
beforeAll(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-startup-timeout-'));
});
afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      (s as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }
});

/** A TCP server on 127.0.0.1 that accepts and never writes a byte; its sockets are destroyed on close. */
async function silentServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  (server as { closeAllConnections?: () => void }).closeAllConnections = () => {
    for (const s of sockets) s.destroy();
  };
  return listen(server);
}

/** An HTTP server: it answers PostgreSQL's start-up message with 400 and hangs up. */
async function httpServer(): Promise<number> {
  return listen(http.createServer((_req, res) => res.end('not postgres')));
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

const urlFor = (port: number) => `postgres://switchyard:${PASSWORD}@127.0.0.1:${port}/switchyard`;

function env(port: number): Record<string, string> {
  return {
    DATABASE_URL: urlFor(port),
    SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS: '1',
    SWITCHYARD_MASTER_KEY: generateMasterKey(),
    SWITCHYARD_ADMIN_TOKEN: 'adm_startup_timeout_0123456789',
    SWITCHYARD_DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
  };
}

describe('start-up against a database that does not answer', () => {
  for (const [kind, server] of [
    ['accepts and never answers', silentServer],
    ['is an HTTP server', httpServer],
  ] as const) {
    it(`gives up after SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS when it ${kind}, naming host:port and not the password`, async () => {
      const port = await server();
      const started = Date.now();
      const error = await startGateway(loadConfig(env(port)), { logger: quietLogger as never }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(error).toBeInstanceOf(Error);
      expect(error!.message).toContain(`127.0.0.1:${port}`);
      expect(error!.message).toContain('SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS');
      expect(error!.message).not.toContain(PASSWORD);
    });
  }

  for (const [entry, args] of [
    ['switchyard all', ['src/app/cli/index.ts', 'all']],
    ['npm start (src/app/server.ts)', ['src/app/server.ts']],
  ] as const) {
    it(`${entry} prints the reason and exits 1`, async () => {
      const port = await silentServer();
      const child = spawn(tsx, [...args], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(killer);
      expect(code, stderr).toBe(1);
      expect(stderr).toContain(`the database at 127.0.0.1:${port} did not answer within 1 s (SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS)`);
      expect(stderr + stdout).not.toContain(PASSWORD);
    }, 30_000);
  }
});
