import { describe, expect, it } from 'vitest';
import type { Deps, Log } from '../core/deps.js';
import type { DeliveryItem, Sent } from './deliver-attempt.js';
import { logOutcome } from './deliver-outcome.js';

/** A Log that keeps each call's level, fields and message. */
function capturingLog() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Log;
  return { log, lines };
}

const item = {
  job: { messageId: 'msg_1', attempt: 2 },
  m: { id: 'msg_1', endpoint_id: 'ep_1', url: 'https://hooks.example.com/in/s3cr3t?token=abc' },
} as unknown as DeliveryItem;

describe('logOutcome', () => {
  it('logs a failed delivery at warn with the endpoint origin (never its path or query) and the status', () => {
    const { log, lines } = capturingLog();
    const sent = {
      outcome: { kind: 'response', status: 503, body: '', durationMs: 12 },
      verdict: 'retry',
      attemptedAt: new Date(),
    } as unknown as Sent;
    logOutcome({ logger: log } as Deps, item, sent, null);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'delivery failed',
        fields: expect.objectContaining({ endpoint: 'https://hooks.example.com', status: 503, endpointId: 'ep_1' }),
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('s3cr3t');
    expect(JSON.stringify(lines)).not.toContain('token=abc');
  });

  it('logs a network failure at warn with its error, and a success at info', () => {
    const { log, lines } = capturingLog();
    const failed = {
      outcome: { kind: 'error', error: 'timeout', durationMs: 15000 },
      verdict: 'retry',
      attemptedAt: new Date(),
    } as unknown as Sent;
    const ok = {
      outcome: { kind: 'response', status: 200, body: 'ok', durationMs: 3 },
      verdict: 'success',
      attemptedAt: new Date(),
    } as unknown as Sent;
    logOutcome({ logger: log } as Deps, item, failed, null);
    logOutcome({ logger: log } as Deps, item, ok, null);
    expect(lines.map((l) => [l.level, l.message, l.fields.error ?? l.fields.status])).toEqual([
      ['warn', 'delivery failed', 'timeout'],
      ['info', 'delivered', 200],
    ]);
  });
});
