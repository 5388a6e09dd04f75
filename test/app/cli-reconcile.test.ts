// `switchyard reconcile` against a gateway served on 127.0.0.1: the report streamed up, progress while the job runs,
// the counts printed, and the exit code.
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Exit } from '../../src/app/cli/args.js';
import { reconcileCommand } from '../../src/app/cli/reconcile.js';
import type { Deps } from '../../src/core/deps.js';
import { reconcileRun } from '../../src/reconciliation/reconcile.task.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { testApp, testDeps } from '../app.js';
import { aShop, stripeEvent, stripeReport, type Shop } from '../reconciliation/harness.js';
import { eventually } from '../eventually.js';

let db: TestDatabase;
let deps: Deps;
let server: ServerType;
let base: string;
let shop: Shop;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = await testDeps(db);
  const app = testApp(deps);
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  shop = await aShop(deps, app, 'stripe');
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_cli_1', amount: 1500 });
  await stripeEvent(deps, app, shop, 'payment_intent.succeeded', { paymentIntent: 'pi_cli_2', amount: 2500 });
  dir = await mkdtemp(path.join(tmpdir(), 'sy-reconcile-'));
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
});

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `switchyard reconcile …args` in this process while the job is run as the worker would, once the upload lands. */
async function reconcile(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  let code = 0;
  const before = new Set((await db.sql<{ id: string }[]>`select id from gw.reconciliation_runs`).map((r) => r.id));
  const worker = eventually(async () => {
    const runs = await db.sql<{ id: string }[]>`select id from gw.reconciliation_runs where status = 'processing'`;
    const run = runs.find((r) => !before.has(r.id));
    if (!run) return undefined;
    await reconcileRun(deps, run.id, { chunkLines: 1 });
    return true;
  }, 10_000);
  try {
    await reconcileCommand(args);
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    if (!(error instanceof Exit)) throw error;
    code = error.code;
  } finally {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  }
  await worker;
  return { code, stdout, stderr };
}

async function reportFile(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('switchyard reconcile', () => {
  it('uploads the report, shows progress as plain lines off a terminal, prints the counts, and exits 0 when all matched', async () => {
    const file = await reportFile(
      'ok.csv',
      stripeReport([
        { txn: 'txn_cli_1', category: 'charge', currency: 'usd', gross: '15.00', fee: '0.74', net: '14.26', pi: 'pi_cli_1' },
        { txn: 'txn_cli_po', category: 'payout', currency: 'usd', gross: '-14.26', fee: '0.00', net: '-14.26' },
      ]),
    );
    const run = await reconcile(file, '--source', shop.sourceId, '--api-key', shop.apiKey, '--url', base, '--interval-ms', '20');
    expect(run.stderr).toMatch(/^rcn_\w+ \d+\/2 lines\n/);
    expect(run.stderr).toMatch(/rcn_\w+ 2\/2 lines\n$/);
    const out = JSON.parse(run.stdout) as { status: string; counts: Record<string, number> };
    expect(out.status).toBe('completed');
    expect(out.counts).toMatchObject({ lines: 2, matched: 1, ignored: 1 });
    expect(run.code).toBe(0);
  });

  it('draws a progress bar on a terminal', async () => {
    const file = await reportFile(
      'tty.csv',
      stripeReport([{ txn: 'txn_cli_tty', category: 'payout', currency: 'usd', gross: '-1.00', fee: '0.00', net: '-1.00' }]),
    );
    const was = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    try {
      const run = await reconcile(file, '--source', shop.sourceId, '--api-key', shop.apiKey, '--url', base, '--interval-ms', '20');
      expect(run.stderr).toMatch(/\rrcn_\w+ \[#{30}\] 1 \/ 1 lines\n$/);
      expect(run.code).toBe(0);
    } finally {
      if (was) Object.defineProperty(process.stderr, 'isTTY', was);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });

  it('exits 1 when a line is unmatched', async () => {
    const file = await reportFile(
      'short.csv',
      stripeReport([{ txn: 'txn_cli_2', category: 'charge', currency: 'usd', gross: '24.00', fee: '0.00', net: '24.00', pi: 'pi_cli_2' }]),
    );
    const run = await reconcile(file, '--source', shop.sourceId, '--api-key', shop.apiKey, '--url', base, '--interval-ms', '20');
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', counts: { amountMismatch: 1 } });
    expect(run.code).toBe(1);
  });

  it('exits 1 with the gateway’s reason when it refuses the report, and 2 without --source', async () => {
    const file = await reportFile('bad.csv', 'a,b\r\n1,2\r\n');
    let stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    await expect(reconcileCommand([file, '--source', shop.sourceId, '--api-key', shop.apiKey, '--url', base])).rejects.toMatchObject({
      code: 1,
    });
    expect(stderr).toMatch(/422 report_format_unknown/);
    await expect(reconcileCommand([file, '--api-key', shop.apiKey])).rejects.toMatchObject({ code: 2 });
  });
});
