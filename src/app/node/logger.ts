// (node) pino, with secrets, signatures and keys redacted wherever they appear by name.
import { pino, type Logger as PinoLogger } from 'pino';
import { redactSecrets } from '../../core/redact.js';

/** The logger every part of Switchyard takes: pino's. */
export type Logger = PinoLogger;

/**
 * A JSON logger at `level` (pino's levels, or `silent`) writing one line per entry to
 * stdout, or to `destination` (tests). The fields of every line are passed through
 * {@link redactSecrets} before they are written; `child()` bindings are not (pino
 * serialises them once, without the log formatter), so bind ids only. Durations in log
 * fields are milliseconds (`durationMs`); metric names say seconds.
 *
 * Why not pino's `redact` paths: `x-*-signature` cannot be written as a path, and every
 * `*.name` wildcard path costs each line a walk of its own, where this is one pass.
 *
 * @example
 * const logger = createLogger('info');
 * logger.child({ requestId }).info({ sourceId }, 'inbound event refused');
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      formatters: { log: (fields) => redactSecrets(fields) },
    },
    destination,
  );
}
