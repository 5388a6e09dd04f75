// (node) pino, with secrets, signatures and keys redacted wherever they appear by name.
import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { Config } from '../../core/config.js';
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

type PinoPretty = (options: PrettyOptions) => pino.DestinationStream;

// pino-pretty is a dev dependency: absent from a production install (the image), where JSON is right anyway.
function loadPinoPretty(): PinoPretty | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as PinoPretty;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * The logger of a process run from a shell (`npm start`, the CLI roles): in development with
 * `stdout` a terminal, one coloured line per entry through pino-pretty when it is installed;
 * otherwise {@link createLogger}'s JSON (production, tests, pipes, log collectors).
 * Redaction is the same either way.
 */
export function terminalLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>,
  stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Logger {
  const pretty = config.NODE_ENV === 'development' && stdout.isTTY ? loadPinoPretty() : undefined;
  if (!pretty) return createLogger(config.LOG_LEVEL, stdout === process.stdout ? undefined : (stdout as pino.DestinationStream));
  return createLogger(
    config.LOG_LEVEL,
    pretty({ destination: stdout, sync: true, colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
  );
}
