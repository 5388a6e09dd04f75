// (node) pino, with secrets, signatures and keys redacted wherever they appear by name.
import { pino, type Logger as PinoLogger } from 'pino';
import { redactSecrets } from '../../core/redact.js';

/** The logger every part of Switchyard takes: pino's. */
export type Logger = PinoLogger;

/**
 * A JSON logger at `level` (pino's levels, or `silent`) writing to stdout or `destination`.
 * Every line's fields pass through {@link redactSecrets}; `child()` bindings do not, so
 * bind ids only. Durations are ms (`durationMs`). (pino's `redact` paths cannot say `x-*-signature`.)
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
