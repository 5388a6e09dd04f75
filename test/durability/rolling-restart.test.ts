// A deploy restarts workers one by one under load: `serve` and two `work` processes, one of the
// workers sent SIGTERM every ~10 s (they take turns) and started again at once. Nothing may be
// lost or doubled, and no attempt may be recorded failed because its worker stopped: SIGTERM
// drains (runner.stop finishes running jobs, HandoffDeliveries finishes its first attempts).
// SWITCHYARD_TEST_ROLLING_RESTARTS sets how many restarts (default 4, each worker twice, about 40 s of load plus
// the restarts for CI; the minute is 6).
import { afterEach, describe, expect, it } from 'vitest';
import { generateMasterKey } from '../../src/core/secrets.js';
import { eventually } from '../eventually.js';
import { startReceiver } from '../receiver.js';
import {
  assertNothingLostOrDoubled,
  createSql,
  readLedger,
  roleEnv,
  setUpMerchant,
  spawnRole,
  startLoad,
  type RoleProcess,
} from './harness.js';
import { startStoppablePostgres } from './postgres-server.js';

const RESTARTS = Number(process.env.SWITCHYARD_TEST_ROLLING_RESTARTS ?? 4);
const RESTART_EVERY_MS = 10_000;
const RATE = Number(process.env.SWITCHYARD_TEST_ROLLING_RATE ?? 30);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('a rolling restart of two workers under load', () => {
  it(
    `SIGTERM to one worker every ${RESTART_EVERY_MS / 1000} s, ${RESTARTS} times: nothing lost, nothing doubled, no attempt failed by a stop`,
    async () => {
      const pg = await startStoppablePostgres();
      cleanups.push(() => pg.destroy());
      const receiver = await startReceiver();
      cleanups.push(() => receiver.close());
      const env = roleEnv(pg.url, generateMasterKey(), { SWITCHYARD_WORKER_CONCURRENCY: '8' });
      const serve = await spawnRole('serve', env);
      cleanups.push(() => serve.terminate());
      const workers: RoleProcess[] = await Promise.all([spawnRole('work', env), spawnRole('work', env)]);
      cleanups.push(() => Promise.all(workers.map((w) => w.terminate())));
      const { inboundPath, merchantId } = await setUpMerchant(serve.url, receiver.url);

      const load = startLoad(() => `${serve.url}${inboundPath}`, RATE);
      const exits: { code: number | null; signal: NodeJS.Signals | null; output: string }[] = [];
      for (let i = 0; i < RESTARTS; i++) {
        await sleep(RESTART_EVERY_MS);
        const k = i % 2;
        const stopping = workers[k]!;
        const exit = await stopping.terminate();
        exits.push({ ...exit, output: stopping.output() });
        workers[k] = await spawnRole('work', env);
      }
      await sleep(2_000);
      const posted = await load.stop();

      expect(exits).toHaveLength(RESTARTS);
      for (const e of exits) expect({ code: e.code, signal: e.signal }, e.output).toEqual({ code: 0, signal: null });
      // No database fault here: every event is acked.
      expect(posted.filter((p) => p.status !== 200)).toEqual([]);
      const acked = posted.map((p) => p.eventId);

      const sql = createSql(pg.url, { max: 2 });
      cleanups.push(() => sql.end({ timeout: 1 }));
      const ledger = await eventually(
        async () => {
          const l = await readLedger(sql, merchantId);
          return l.succeeded.size >= acked.length && l.unprocessed === 0 ? l : undefined;
        },
        60_000,
        'every acked event delivered',
        250,
      );
      assertNothingLostOrDoubled(ledger, acked, new Set(), receiver);
      expect(ledger.failedAttempts).toEqual([]);
    },
    120_000 + RESTARTS * 30_000,
  );
});
