// (node) pino, with secrets, signatures and keys redacted wherever they appear by name.
import { pino, type Logger as PinoLogger } from 'pino';

/** The logger every part of Switchyard takes: pino's. */
export type Logger = PinoLogger;

/** Field paths pino blanks out before a line is written. */
export const REDACT_PATHS = [
  'secret', '*.secret', 'secrets', '*.secrets',
  'apiKey', '*.apiKey', 'authorization', '*.authorization',
  'headers.authorization', 'headers["stripe-signature"]', 'headers["webhook-signature"]',
  'headers["svix-signature"]', '*.headers.authorization', 'masterKey', 'adminToken',
];

/**
 * A JSON logger at `level` writing to stdout (or to `destination`, for tests).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
