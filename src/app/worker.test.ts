// graphileLogger (src/app/worker.ts): graphile-worker's lines at the levels a first terminal wants.
import { describe, expect, it } from 'vitest';
import type { Log } from '../core/deps.js';
import { graphileLogger } from './worker.js';

/** A Log keeping (level, message) pairs. */
function recorded(): { log: Log; lines: [string, string | undefined][] } {
  const lines: [string, string | undefined][] = [];
  const log: Log = {
    info: (_o, m) => void lines.push(['info', m]),
    warn: (_o, m) => void lines.push(['warn', m]),
    error: (_o, m) => void lines.push(['error', m]),
    debug: (_o, m) => void lines.push(['debug', m]),
    child: () => log,
  };
  return { log, lines };
}

describe('graphileLogger', () => {
  it("puts graphile-worker's per-job 'Completed task' line at debug and keeps its other levels", () => {
    const { log, lines } = recorded();
    const logger = graphileLogger(log).scope({ label: 'worker' });
    logger.info('Completed task 42 (purge_idempotency_keys, 3.10ms, attempt 1 of 25) with success');
    logger.info('Worker connected and looking for jobs...');
    logger.warn('Failed task 43 (deliver_message, 5.00ms, attempt 1 of 25) with error');
    logger.error('Cron fired too late');
    logger.debug('polling');
    expect(lines).toEqual([
      ['debug', 'Completed task 42 (purge_idempotency_keys, 3.10ms, attempt 1 of 25) with success'],
      ['info', 'Worker connected and looking for jobs...'],
      ['warn', 'Failed task 43 (deliver_message, 5.00ms, attempt 1 of 25) with error'],
      ['error', 'Cron fired too late'],
    ]);
  });
});
