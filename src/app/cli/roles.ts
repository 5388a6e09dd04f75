// (node) `switchyard all|serve|work` (run a role until a signal) and `switchyard migrate`.
import { openDatabase, runRole, type Role } from '../gateway.js';
import { terminalLogger } from '../node/logger.js';
import { help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE } from './database.js';

const USAGE: Record<Role | 'migrate', string> = {
  all: `switchyard all

Runs the API, the inbound route and the worker in one process until SIGTERM/SIGINT, then
drains in-flight requests and jobs within SWITCHYARD_SHUTDOWN_TIMEOUT_MS (exit 0; exit 1
when the bound passed). ${DB_NOTE}`,
  serve: `switchyard serve

Runs the API and the inbound route on HOST:PORT, without a worker (run \`switchyard work\`
beside it, or nothing gets processed or delivered). Stops like \`switchyard all\`. ${DB_NOTE}`,
  work: `switchyard work

Runs the graphile-worker runner (inbound processing, deliveries, the abandoned-job sweep)
without an HTTP server, until SIGTERM/SIGINT; then finishes its jobs within
SWITCHYARD_SHUTDOWN_TIMEOUT_MS (exit 0; exit 1 when the bound passed). ${DB_NOTE}`,
  migrate: `switchyard migrate

Applies graphile-worker's and Switchyard's migrations, then exits. Needs neither
SWITCHYARD_MASTER_KEY nor SWITCHYARD_ADMIN_TOKEN, and writes nothing outside the database
(in development without DATABASE_URL, the embedded one under SWITCHYARD_DATA_DIR). ${DB_NOTE}`,
};

/** `serve`, `work`, `all`: starts the role, which runs until a signal (runRole in src/app/gateway.ts). */
export async function roleCommand(role: Role, args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE[role], args, { help: { type: 'boolean' } });
  if (values.help) return help(USAGE[role]);
  if (positionals.length > 0) usageError(USAGE[role], `unexpected argument ${positionals[0]}`);
  const cfg = readConfig();
  await runRole(role, cfg, terminalLogger(cfg));
}

/** `migrate`: applies the migrations and exits. */
export async function migrateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE.migrate, args, { help: { type: 'boolean' } });
  if (values.help) return help(USAGE.migrate);
  if (positionals.length > 0) usageError(USAGE.migrate, `unexpected argument ${positionals[0]}`);
  const cfg = readConfig();
  // Migrating opens no secret: the roles that do check the master key when they start.
  const { sql, embedded } = await openDatabase(cfg, terminalLogger(cfg));
  await sql.end();
  await embedded?.stop();
  process.stdout.write('migrated\n');
}
