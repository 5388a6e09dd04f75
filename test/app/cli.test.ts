// The `switchyard` CLI as a person runs it: a child process (tsx src/app/cli/index.ts …) on this
// file's database, asserting on exit codes and what it prints.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateMasterKey } from '../../src/core/secrets.js';
import { aMerchant, testApp, testDeps } from '../app.js';
import { newId } from '../../src/core/ids.js';
import { createSql } from '../../src/core/db/client.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { withDatabase } from '../global-setup.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = path.join(root, 'node_modules/.bin/tsx');
const SHUTDOWN_TIMEOUT_MS = 10_000;

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-'));
});
afterAll(async () => {
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The child's environment: this file's database, explicit secrets, nothing written to the repo. */
function env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: db.url,
    SWITCHYARD_MASTER_KEY: generateMasterKey(),
    SWITCHYARD_ADMIN_TOKEN: 'adm_cli_test_token_0123456789',
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `switchyard …args` to completion. */
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, ['src/app/cli/index.ts', ...args], { cwd: root, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('switchyard CLI', () => {
  it("prints each command's usage for --help and exits 0", async () => {
    const commands = ['serve', 'work', 'all', 'migrate', 'merchants', 'events', 'ledger', 'simulate', 'listen', 'keys'];
    // two at a time: eleven tsx start-ups at once on a two-core machine outran the test's timeout
    const argv = [['--help'], ...commands.map((c) => [c, '--help'])];
    const runs: Run[] = [];
    for (let i = 0; i < argv.length; i += 2) runs.push(...(await Promise.all(argv.slice(i, i + 2).map((a) => cli(...a)))));
    expect(runs[0]!.code).toBe(0);
    for (const c of commands) expect(runs[0]!.stdout).toContain(c);
    commands.forEach((c, i) => {
      const run = runs[i + 1]!;
      expect(run.code, `${c} --help: ${run.stderr}`).toBe(0);
      expect(run.stdout).toContain(`switchyard ${c}`);
      expect(run.stderr).toBe('');
    });
  }, 120_000);

  it('exits 2 with the usage on stderr for an unknown command or a bad option', async () => {
    const [unknown, badOption, missing] = await Promise.all([
      cli('frobnicate'),
      cli('ledger', 'check', '--merchant'),
      cli('merchants', 'create'),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^switchyard: unknown command frobnicate\n/);
    expect(unknown.stderr).toContain('switchyard <command> [options]');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('switchyard ledger check (--merchant <mch_…> | --api-key <sk_…|rk_…>)');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^switchyard: --name is required\n/);
  });

  it('creates a merchant whose API key authenticates, and checks its (empty) ledger', async () => {
    const created = await cli('merchants', 'create', '--name', 'Acme');
    expect(created.code, created.stderr).toBe(0);
    const apiKey = /\b(sk_\S+)/.exec(created.stdout)?.[1];
    const id = /\b(mch_\S+)/.exec(created.stdout)?.[1];
    expect(apiKey).toBeDefined();
    expect(id).toBeDefined();

    const app = testApp(await testDeps(db));
    const ok = await app.request('/v1/payments', { headers: { authorization: `Bearer ${apiKey}` } });
    expect(ok.status).toBe(200);
    const wrong = await app.request('/v1/payments', { headers: { authorization: `Bearer ${apiKey}x` } });
    expect(wrong.status).toBe(401);

    const [check, unknown] = await Promise.all([
      cli('ledger', 'check', '--merchant', id!),
      cli('ledger', 'check', '--merchant', 'mch_nope'),
    ]);
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ merchant: id, balanced: true });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^switchyard: no merchant mch_nope[^\n]*\n$/);

    const me = await app.request('/v1/merchant', { headers: { authorization: `Bearer ${apiKey}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id, name: 'Acme', apiKey: { prefix: apiKey!.slice(0, 7) } });
  });

  it('takes --api-key instead of --merchant: the key names its merchant; a wrong key is one line and exit 1', async () => {
    const created = await cli('merchants', 'create', '--name', 'Keyed');
    const apiKey = /\b(sk_\S+)/.exec(created.stdout)![1]!;
    const id = /\b(mch_\S+)/.exec(created.stdout)![1]!;
    const [byKey, wrong, both, neither] = await Promise.all([
      cli('ledger', 'check', '--api-key', apiKey),
      cli('ledger', 'check', '--api-key', `${apiKey}x`),
      cli('ledger', 'check', '--api-key', apiKey, '--merchant', id),
      cli('ledger', 'check'),
    ]);
    expect(byKey.code, byKey.stderr).toBe(0);
    expect(JSON.parse(byKey.stdout)).toMatchObject({ merchant: id, balanced: true });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^switchyard: that API key is not valid[^\n]*\n$/);
    expect(wrong.stderr).not.toContain(apiKey);
    expect(wrong.stdout).toBe('');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^switchyard: give --merchant or --api-key, not both\n/);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/^switchyard: --merchant or --api-key is required\n/);
  });

  it('takes --api-key only as the API does: revoked, expired, or restricted without ledger:read is one line and exit 1', async () => {
    const created = await cli('merchants', 'create', '--name', 'Restricted');
    const fullKey = /\b(sk_\S+)/.exec(created.stdout)![1]!;
    const id = /\b(mch_\S+)/.exec(created.stdout)![1]!;
    const app = testApp(await testDeps(db));
    const make = async (body: Record<string, unknown>) => {
      const res = await app.request('/v1/api-keys', {
        method: 'POST',
        headers: { authorization: `Bearer ${fullKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { id: string; key: string; prefix: string };
    };
    const reader = await make({ name: 'ledger reader', permissions: { ledger: 'read' } });
    const noLedger = await make({ name: 'payments only', permissions: { payments: 'write' } });
    const revoked = await make({ name: 'revoked' });
    const expiring = await make({ name: 'expired', expiresAt: new Date(Date.now() + 60_000).toISOString() });
    const del = await app.request(`/v1/api-keys/${revoked.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${fullKey}` } });
    expect(del.status).toBe(200);
    await db.sql`update gw.api_keys set expires_at = now() - interval '1 minute' where id = ${expiring.id}`;

    const [ok, denied, gone, expired] = await Promise.all([
      cli('ledger', 'check', '--api-key', reader.key),
      cli('ledger', 'check', '--api-key', noLedger.key),
      cli('ledger', 'check', '--api-key', revoked.key),
      cli('ledger', 'check', '--api-key', expiring.key),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ merchant: id, balanced: true });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(new RegExp(`^switchyard: the API key ${noLedger.prefix}… lacks ledger:read[^\n]*\n$`));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^switchyard: that API key is not valid \(unknown or revoked\)[^\n]*\n$/);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(
      new RegExp(`^switchyard: the API key ${expiring.prefix}… expired at [^\n]*; use the key it was rolled to\n$`),
    );
    for (const run of [denied, gone, expired]) {
      expect(run.stdout).toBe('');
      for (const key of [reader.key, noLedger.key, revoked.key, expiring.key]) expect(run.stderr).not.toContain(key);
    }
  });

  it('refuses to replay an unknown event with one line and exit 1', async () => {
    const run = await cli('events', 'replay', 'evt_doesnotexist');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^switchyard: no event evt_doesnotexist[^\n]*\n$/);
    expect(run.stdout).toBe('');
  });

  it('refuses to replay an event whose payload expired (retention) with one line and exit 1, as the API’s 410', async () => {
    const m = await aMerchant(await testDeps(db));
    const id = newId('evt', new Date('2026-01-15T10:00:00Z'));
    // an event whose payload partition was dropped: the row stays, its bytes are gone
    await db.sql`
      insert into gw.events (id, merchant_id, type, payment_id, dedupe_key, created_at)
      values (${id}, ${m.id}, 'payment.captured', null, ${`cli-expired-${id}`}, '2026-01-15T10:00:00Z')`;
    const run = await cli('events', 'replay', id);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(`^switchyard: event ${id} \\(created 2026-01-15T10:00:00.000Z\\) has expired[^\\n]*event_expired[^\\n]*\\n$`),
    );
    expect(run.stdout).toBe('');
  });

  it('says what to check, in one line, when the database is unreachable', async () => {
    const child = spawn(tsx, ['src/app/cli/index.ts', 'ledger', 'check', '--merchant', 'mch_x'], {
      cwd: root,
      env: { ...env(), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^switchyard: cannot reach the database .*check DATABASE_URL[^\n]*\n$/);
  });

  it('runs `work` until SIGTERM, then exits 0 within the shutdown bound', async () => {
    // Node itself with tsx as its loader, so the signal reaches the gateway's own handler: the
    // tsx CLI relays it, and kills its child outright when the child has not acknowledged it
    // within 60 ms (a loaded CI machine), which exits 143.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/cli/index.ts', 'work'], {
      cwd: root,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('worker is running')) resolve();
      });
      child.on('close', () => reject(new Error(`work exited before it was running: ${stderr}`)));
    });
    const sent = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(code, stderr).toBe(0);
    expect(Date.now() - sent).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });

  it('stops `npm start` on Ctrl-C (SIGINT to its process group): exit 0, no stack, the embedded PostgreSQL stopped, its data reusable at once', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'switchyard-ctrl-c-'));
    chmodSync(home, 0o755); // the embedded server runs as the postgres user when we are root
    // No DATABASE_URL: the embedded server, as after a fresh clone.
    const { DATABASE_URL: _url, SWITCHYARD_MASTER_KEY: _key, ...rest } = env();
    const startEnv: NodeJS.ProcessEnv = { ...rest, SWITCHYARD_DATA_DIR: home, LOG_LEVEL: 'info', NODE_ENV: 'development' };
    /** One `npm start` in a process group of its own, as a shell runs a foreground job; Ctrl-C once it is up. */
    const startThenCtrlC = async (): Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      stderr: string;
      postmaster: number;
    }> => {
      const child = spawn('npm', ['start'], { cwd: root, env: startEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (code, signal) => resolve([code, signal])),
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (stdout.includes('Switchyard is running at')) resolve();
        });
        child.on('close', () => reject(new Error(`npm start exited before it was running: ${stderr}`)));
      });
      const postmaster = Number(readFileSync(path.join(home, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(-child.pid!, 'SIGINT');
      const [code, signal] = await exited;
      return { code, signal, stderr, postmaster };
    };
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const first = await startThenCtrlC();
      expect({ code: first.code, signal: first.signal }, first.stderr).toEqual({ code: 0, signal: null });
      expect(first.stderr).not.toMatch(/^\s+at /m);
      expect(first.stderr).not.toContain('Unhandled');
      expect(alive(first.postmaster)).toBe(false);

      const second = await startThenCtrlC();
      expect({ code: second.code, signal: second.signal }, second.stderr).toEqual({ code: 0, signal: null });
      expect(second.stderr).not.toMatch(/^\s+at /m);
      expect(alive(second.postmaster)).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 120_000);

  it('in production writes nothing to its working directory: migrate and work need no admin token, serve without one answers /admin with 404 and says so', async () => {
    // As the image's `node` user runs it: NODE_ENV=production, a working directory it cannot
    // write (mode 555; root ignores modes, so the test also checks nothing appeared there).
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'switchyard-prod-'));
    chmodSync(cwd, 0o555);
    const fresh = `sy_prod_${process.pid}_${Date.now().toString(36)}`;
    const admin = createSql(inject('adminUrl'), { max: 1 });
    await admin.unsafe(`create database ${fresh}`);
    const { SWITCHYARD_ADMIN_TOKEN: _token, SWITCHYARD_DATA_DIR: _dir, ...rest } = env();
    const prodEnv: NodeJS.ProcessEnv = { ...rest, NODE_ENV: 'production', DATABASE_URL: withDatabase(inject('adminUrl'), fresh) };
    const entry = [
      process.execPath,
      '--import',
      pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
      path.join(root, 'src/app/cli/index.ts'),
    ];
    const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      spawn(entry[0]!, [...entry.slice(1), ...args], { cwd, env: { ...prodEnv, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    /** Starts a role, waits for its banner, hands it to `whileUp`, then SIGTERM: its exit code and banner. */
    const untilBanner = async (role: string, whileUp: (banner: string) => Promise<void> = async () => {}) => {
      const child = run([role]);
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (/is running[^\n]*\n[\s\S]*\n\n/.test(stdout)) resolve();
        });
        child.on('close', () => reject(new Error(`${role} exited before it was running: ${stderr}`)));
      });
      try {
        await whileUp(stdout);
      } finally {
        child.kill('SIGTERM');
      }
      return { code: await exited, stdout, stderr };
    };
    try {
      const migrated = await new Promise<Run>((resolve, reject) => {
        const child = run(['migrate'], { SWITCHYARD_MASTER_KEY: undefined });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect(migrated.code, migrated.stderr).toBe(0);
      expect(migrated.stdout).toBe('migrated\n');

      const work = await untilBanner('work');
      expect(work.code, work.stderr).toBe(0);
      expect(work.stdout).toContain('worker is running');

      const serve = await untilBanner('serve', async (banner) => {
        const base = /running at (http:\/\/\S+)/.exec(banner)?.[1];
        const res = await fetch(`${base}/admin/merchants`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer adm_guess_0123456789abcdef' },
          body: '{"name":"Acme"}',
        });
        expect(res.status).toBe(404);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        const problem = (await res.json()) as { code: string; detail: string };
        expect(problem.code).toBe('not_found');
        expect(problem.detail).toContain('SWITCHYARD_ADMIN_TOKEN');
      });
      expect(serve.code, serve.stderr).toBe(0);
      expect(serve.stdout).toContain('admin API:   off');
      expect(serve.stdout).not.toMatch(/adm_/);
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      await admin.unsafe(`drop database if exists ${fresh} with (force)`);
      await admin.end();
      chmodSync(cwd, 0o755);
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);
});
