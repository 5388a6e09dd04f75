// (node) What every `switchyard` command shares: strict option parsing, the settings from
// the environment, and the three ways a command ends early (its help, a usage error, a failure).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from '../../core/config.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What {@link parse} returns for `options`: `values` typed by the options, and `positionals`. */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Thrown to end the process with `code` after its message was written; caught by index.ts. */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Prints a command's `usage` text to stdout (its `--help`). */
export function help(usage: string): void {
  process.stdout.write(`${usage}\n`);
}

/** A usage error: the problem and the command's `usage` text on stderr, exit 2. */
export function usageError(usage: string, problem: string): never {
  process.stderr.write(`switchyard: ${problem}\n\n${usage}\n`);
  throw new Exit(2);
}

/** A runtime failure: one actionable line on stderr, exit 1. */
export function die(message: string): never {
  process.stderr.write(`switchyard: ${message}\n`);
  throw new Exit(1);
}

/** parseArgs, strict, with positionals; a parse error (unknown option, missing value) is a usage error of the command whose `usage` is given. */
export function parse<O extends Options>(usage: string, args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    usageError(usage, error instanceof Error ? error.message : String(error));
  }
}

/** Config from the environment; an invalid variable is a runtime failure naming it. */
export function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    die(
      String(error instanceof Error ? error.message : error)
        .replace(/:\n\s*/, ': ')
        .replace(/\n\s*/g, '; '),
    );
  }
}
