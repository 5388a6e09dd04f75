#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50
// (node) `switchyard`: the CLI's entry point and command dispatch (exit codes in USAGE).
// The launcher line bounds the heap under load (README "Capacity planning", memory): young generation semi-spaces of
// 8 MB (V8's default grows them to 16), and a major GC once the old generation is 1.5 × what the last one kept.
import { Exit, help, usageError } from './args.js';
import { eventsCommand } from './events.js';
import { keysCommand } from './keys.js';
import { ledgerCommand } from './ledger.js';
import { listenCommand } from './listen.js';
import { merchantsCommand } from './merchants.js';
import { reconcileCommand } from './reconcile.js';
import { replayCommand } from './replay.js';
import { migrateCommand, roleCommand } from './roles.js';
import { simulateCommand } from './simulate.js';

const USAGE = `switchyard <command> [options]

Commands:
  all                            API, inbound and worker in one process (what \`npm start\` runs)
  serve                          API and inbound only, no worker
  work                           the worker only (deliveries, inbound processing), no HTTP
  migrate                        apply graphile-worker's and Switchyard's migrations, then exit
  merchants create --name <n>    create a merchant; prints its id and API key (shown once)
  events replay <evt_…>          queue one more delivery attempt of an event's messages
  replay --since <time> (--endpoint <ep_…> | --merchant <mch_…>)
                                 replay every failed message since a time, with a progress bar
  ledger check --merchant <id>   prove a merchant's ledger balances (exit 1 when not);
                                 --api-key <sk_…|rk_…> instead names the key's merchant
                                 (a valid key with ledger: read)
  simulate <psp> <event-type>    post one signed Stripe or Adyen event to a running gateway
  reconcile <file.csv> --source <src_…>
                                 upload a settlement report to a running gateway, show its
                                 progress and counts (exit 1 when anything is unmatched)
  listen                         a local endpoint that prints each delivery
  keys reencrypt                 re-seal every stored secret with the first key of
                                 SWITCHYARD_MASTER_KEY (master key rotation), resumable

Run \`switchyard <command> --help\` for a command's options.
Settings come from the environment (README.md "Configuration").
Exit codes: 0 done, 1 failed (the reason on stderr), 2 bad usage.`;

/** One actionable line for a failure: database errors say what to check. */
function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; address?: unknown; port?: unknown } | null;
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof e === 'object' && e !== null ? e.code : undefined;
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'CONNECT_TIMEOUT':
      return `cannot reach the database (${message}): check DATABASE_URL and that PostgreSQL is running`;
    case '28P01':
    case '28000':
      return `the database refused the login (${message}): check the user and password in DATABASE_URL`;
    case '3D000':
      return `${message}: create it, or fix the database name in DATABASE_URL`;
    case '42P01':
    case '3F000':
      return `the database is not migrated (${message}): run \`switchyard migrate\``;
    case 'EADDRINUSE':
      return `${message}: another process uses that port; set PORT to a free one`;
    default:
      return message.replace(/\n\s*/g, '; ');
  }
}

/** Runs the command; true when it left a role running (the process exits on a signal). */
async function main(): Promise<boolean> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'serve':
    case 'work':
    case 'all':
      await roleCommand(command, rest);
      return true;
    case 'migrate':
      await migrateCommand(rest);
      return false;
    case 'merchants':
      await merchantsCommand(rest);
      return false;
    case 'events':
      await eventsCommand(rest);
      return false;
    case 'ledger':
      await ledgerCommand(rest);
      return false;
    case 'replay':
      await replayCommand(rest);
      return false;
    case 'simulate':
      await simulateCommand(rest);
      return false;
    case 'reconcile':
      await reconcileCommand(rest);
      return false;
    case 'keys':
      await keysCommand(rest);
      return false;
    case 'listen':
      await listenCommand(rest);
      return true;
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      throw new Exit(2);
    case '--help':
    case '-h':
    case 'help':
      help(USAGE);
      return false;
    default:
      usageError(USAGE, `unknown command ${command}`);
  }
}

// Exit explicitly after a one-shot command so no leftover handle (a closing pool, a timer) holds the process.
main().then(
  (running) => {
    if (!running) process.exit(process.exitCode ?? 0);
  },
  (error: unknown) => {
    if (error instanceof Exit) process.exit(error.code);
    process.stderr.write(`switchyard: ${describe(error)}\n`);
    process.exit(1);
  },
);
