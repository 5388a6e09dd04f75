// Cron items run once across worker processes: graphile-worker schedules each (identifier, minute)
// only by moving `_private_known_crontabs.last_execution` forward in the statement that adds the job
// (https://worker.graphile.org/docs/cron), so of two runners only one adds it. Two runners, each on
// a pool of its own as two processes would be, start at once and backfill the same ten minutes of an
// every-minute item; each minute runs once.
import { parseCronItems, run, type Runner } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphileLogger } from '../../src/app/worker.js';
import { quietLogger } from '../app.js';
import { createTestDatabase, type TestDatabase } from '../db.js';
import { eventually } from '../eventually.js';

let db: TestDatabase;
const runners: Runner[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const r of runners) await r.stop();
  await db.drop();
});

describe('cron items with two runners', () => {
  it('run each scheduled minute once, whichever runner adds it', async () => {
    const ran: { runner: number; ts: string }[] = [];
    // Known for 10 minutes and never run: each runner backfills them when it starts.
    const [known] = await db.sql<{ since: Date }[]>`
      insert into graphile_worker._private_known_crontabs (identifier, known_since)
      values ('once_tick', now() - interval '10 minutes') returning known_since as since`;
    const start = (runner: number) =>
      run({
        connectionString: db.url,
        concurrency: 2,
        pollInterval: 100,
        noHandleSignals: true,
        logger: graphileLogger(quietLogger),
        parsedCronItems: parseCronItems([
          { task: 'once_tick', match: '* * * * *', identifier: 'once_tick', options: { backfillPeriod: 10 * 60_000 } },
        ]),
        taskList: {
          once_tick: async (payload) => {
            ran.push({ runner, ts: (payload as { _cron: { ts: string } })._cron.ts });
          },
        },
      });
    runners.push(...(await Promise.all([start(1), start(2)])));

    await eventually(
      async () => {
        const [left] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from graphile_worker._private_jobs j
            join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'once_tick'`;
        return ran.length >= 9 && left!.n === 0 ? true : undefined;
      },
      30_000,
      'the backfilled minutes run',
    );
    const minutes = ran.map((r) => r.ts).sort();
    expect(new Set(minutes).size).toBe(minutes.length);
    for (const ts of minutes) {
      expect(new Date(ts).getUTCSeconds()).toBe(0);
      expect(new Date(ts).getTime()).toBeGreaterThanOrEqual(known!.since.getTime());
    }
    // Consecutive minutes: none skipped either.
    const first = new Date(minutes[0]!).getTime();
    expect(minutes.map((ts) => (new Date(ts).getTime() - first) / 60_000)).toEqual(minutes.map((_, i) => i));
  });
});
