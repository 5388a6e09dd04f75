// Two worker processes share one set of limits per endpoint (src/outbound/slot-leases.ts): real
// `switchyard work` processes (node --import tsx src/app/cli/index.ts work) on one database, and a
// real receiver on 127.0.0.1 that holds each request before answering and counts the requests it
// holds at once. Its count goes down before it answers, so it never undercounts the attempts in
// flight as the workers see them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/core/deps.js';
import { emitEvent } from '../../src/core/events/outbox.js';
import { createSecretBox, generateMasterKey } from '../../src/core/secrets.js';
import { aMerchant, jsonRequest, testApp, testDeps } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** How long the receiver holds a request before answering, ms: long enough for every slot to fill. */
const HOLD_MS = 1_500;

let db: TestDatabase;
let deps: Deps;
const masterKey = generateMasterKey();
const workers: ChildProcess[] = [];
let server: Server | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = { ...(await testDeps(db)), secretBox: await createSecretBox(masterKey) };
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((r) => w.once('exit', r)) : undefined)));
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await db.drop();
});

/** The receiver: holds each request HOLD_MS (or answers `status` at once when set), counting those it holds. */
async function holdingReceiver() {
  const state = { holding: 0, maxHolding: 0, messageIds: [] as string[], status: undefined as number | undefined };
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.messageIds.push(String(req.headers['webhook-id']));
      if (state.status !== undefined) {
        res.writeHead(state.status).end();
        return;
      }
      state.holding += 1;
      state.maxHolding = Math.max(state.maxHolding, state.holding);
      setTimeout(() => {
        state.holding -= 1;
        res.writeHead(200).end('ok');
      }, HOLD_MS);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks` };
}

/** Starts `switchyard work` on the test database; resolves once it says it is running. */
async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/cli/index.ts', 'work'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: db.url,
      SWITCHYARD_MASTER_KEY: masterKey,
      SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
      SWITCHYARD_CIRCUIT_FAILURES: '3',
      SWITCHYARD_CIRCUIT_COOLDOWN_SECONDS: '600',
      SWITCHYARD_RETRY_SCHEDULE: '1,1,1,1,1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('worker is running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`work exited with ${code} before it was running: ${stderr}`)));
  });
  return child;
}

async function emit(merchantId: string, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await emitEvent(db.sql, {
      merchantId,
      type: 'payment.captured',
      paymentId: null,
      dedupeKey: `${tag}-${i}`,
      data: { i },
      at: new Date(),
    });
    ids.push(...r!.messageIds);
  }
  return ids;
}

describe('two worker processes', () => {
  it('never have more than maxInFlight attempts in flight to one endpoint, and both honour a circuit either opened', async () => {
    const receiver = await holdingReceiver();
    const merchant = await aMerchant(deps);
    const res = await testApp(deps).request('/v1/endpoints', jsonRequest('POST', { url: receiver.url, maxInFlight: 4 }, merchant.apiKey));
    expect(res.status).toBe(201);
    const endpointId = ((await res.json()) as { id: string }).id;
    const a = await startWorker();
    const b = await startWorker();
    // One transaction per event: their jobs spread over the batch lanes, so both processes take some at once.
    const first = await emit(merchant.id, 24, 'cap');
    // Both processes lease a part of the endpoint's cap at some point.
    const holders = new Set<string>();
    await eventually(
      async () => {
        const rows = await db.sql<{ holder: string }[]>`select holder from gw.endpoint_slot_leases where endpoint_id = ${endpointId}`;
        for (const r of rows) holders.add(r.holder);
        const delivered = new Set(receiver.state.messageIds);
        return first.every((id) => delivered.has(id)) && holders.size >= 2 ? true : undefined;
      },
      90_000,
      'every message delivered, by both processes',
    );
    expect(receiver.state.maxHolding).toBeLessThanOrEqual(4);
    expect(receiver.state.maxHolding).toBeGreaterThanOrEqual(2);
    expect(holders.size).toBe(2);

    // The circuit: only `a` runs while the endpoint fails, until the circuit opens...
    b.kill('SIGSTOP');
    receiver.state.status = 500;
    const failing = await emit(merchant.id, 6, 'failing');
    const openUntil = await eventually(
      async () => {
        const [ep] = await db.sql<
          { circuit_open_until: Date | null }[]
        >`select circuit_open_until from gw.endpoints where id = ${endpointId}`;
        return ep!.circuit_open_until ?? undefined;
      },
      60_000,
      'the circuit open',
      20,
    );
    a.kill('SIGSTOP');
    // ...then only `b`, which never saw the endpoint fail, runs the retries `a` scheduled a second ahead: it sends
    // none of them and puts them off to the circuit's end, uncounted.
    const retries = await db.sql<{ id: string; attempts: number }[]>`
      select id, attempts from gw.messages
       where id = any(${failing}::text[]) and status = 'pending' and attempts > 0 and next_attempt_at < ${openUntil}
       order by id`;
    expect(retries.length).toBeGreaterThan(0);
    const sentBefore = receiver.state.messageIds.length;
    b.kill('SIGCONT');
    const putOff = await eventually(
      async () => {
        const rows = await db.sql<{ id: string; attempts: number; next_attempt_at: Date | null }[]>`
          select id, attempts, next_attempt_at from gw.messages where id = any(${retries.map((r) => r.id)}::text[]) order by id`;
        return rows.every((r) => r.next_attempt_at !== null && r.next_attempt_at.getTime() >= openUntil.getTime()) ? rows : undefined;
      },
      // `a` was stopped while it may hold the retries' job locked: then `b` runs it only once the abandoned-job sweep
      // frees it (the threshold, a delivery timeout + 30 s = 45 s, plus a sweep period of up to 10 s).
      120_000,
      'the retries put off by the other process',
    );
    expect(putOff.map((r) => [r.id, r.attempts])).toEqual(retries.map((r) => [r.id, r.attempts]));
    expect(receiver.state.messageIds.length).toBe(sentBefore);
    a.kill('SIGCONT');
  }, 300_000);
});
