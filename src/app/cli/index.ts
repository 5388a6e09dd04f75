#!/usr/bin/env node
// (node) `switchyard`: run the gateway's roles, migrate, operate merchants, events and the
// ledger, and the developer tools that send a signed PSP event and receive Switchyard's
// deliveries. Exit codes: 0 done, 1 a runtime failure (one `switchyard: …` line on
// stderr), 2 a usage error (the command's usage on stderr).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../core/auth/api-keys.js';
import { loadConfig, type Config } from '../../core/config.js';
import { createSql, type Sql } from '../../core/db/client.js';
import { checkLedger } from '../../core/ledger/ledger-store.js';
import { ledgerCheckView } from '../../core/ledger/ledger-view.js';
import { createLogger } from '../node/logger.js';
import { insertMerchant } from '../../core/merchants/merchant-store.js';
import { prepare, runRole, type Role } from '../gateway.js';
import { signStripe } from '../../inbound/verifiers/testing.js';
import { redeliverEvent } from '../../outbound/redeliver.js';
import { buildStripeEvent, SIMULATED_STRIPE_TYPES, type SimulatedStripeType } from '../../dev/simulate/stripe.js';
import { verifyStandardWebhooks } from '../../inbound/verifiers/standard-webhooks.js';

const DB_NOTE = 'Reads DATABASE_URL (unset: the embedded PostgreSQL of `npm start`, started if it is not running).';

/** Each command's usage, printed by `--help` (stdout, exit 0) and on a usage error (stderr, exit 2). */
const USAGE = {
  main: `switchyard <command> [options]

Commands:
  all                            API, inbound and worker in one process (what \`npm start\` runs)
  serve                          API and inbound only, no worker
  work                           the worker only (deliveries, inbound processing), no HTTP
  migrate                        apply graphile-worker's and Switchyard's migrations, then exit
  merchants create --name <n>    create a merchant; prints its id and API key (shown once)
  events replay <evt_…>          queue one more delivery attempt of an event's messages
  ledger check --merchant <id>   prove a merchant's ledger balances (exit 1 when not)
  simulate stripe <event-type>   post one Stripe-signed event to a running gateway
  listen                         a local endpoint that prints each delivery

Run \`switchyard <command> --help\` for a command's options.
Settings come from the environment (README.md "Configuration").
Exit codes: 0 done, 1 failed (the reason on stderr), 2 bad usage.`,
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

Applies graphile-worker's and Switchyard's migrations, then exits. ${DB_NOTE}`,
  merchants: `switchyard merchants create --name <name>

Creates a merchant and prints its id and API key. The key is shown only this once and
stored as a hash. ${DB_NOTE}`,
  events: `switchyard events replay <evt_…> [--endpoint <ep_…>]

Queues one more delivery attempt of the event's messages to every enabled endpoint that
has one, or with --endpoint to that endpoint only (creating its message when it subscribes
to the event's type). Needs a running worker to deliver. ${DB_NOTE}`,
  ledger: `switchyard ledger check --merchant <mch_…>

Proves the merchant's ledger from its entries (debits equal credits per currency, every
transaction balances, every balance equals the sum of its entries) and prints the result
as JSON. Exit 0 when balanced, 1 when not. ${DB_NOTE}`,
  simulate: `switchyard simulate stripe <event-type> [options]

Posts one Stripe-signed event to a running gateway.
  --source <src_…>          the Stripe source's id (required)
  --secret <whsec_…>        that source's signing secret (required)
  --url <base>              gateway base URL (default http://127.0.0.1:3000)
  --payment <pi_…>          PaymentIntent id (default: a new one)
  --amount <minor units>    default 2000
  --currency <code>         default usd
  --refunded <minor units>  charge.refunded: cumulative refunded amount

Event types: ${SIMULATED_STRIPE_TYPES.join(', ')}`,
  listen: `switchyard listen [--port 4000] [--secret whsec_…]

A local endpoint on 127.0.0.1 that prints each delivery and, with --secret, verifies its
Standard Webhooks signature.`,
} as const;

type Command = keyof typeof USAGE;

/** Thrown to end the process with `code` after `message` was written; caught by main(). */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Prints `command`'s usage to stdout (its `--help`). */
function help(command: Command): void {
  process.stdout.write(`${USAGE[command]}\n`);
}

/** A usage error: the problem and `command`'s usage on stderr, exit 2. */
function usage(command: Command, problem: string): never {
  process.stderr.write(`switchyard: ${problem}\n\n${USAGE[command]}\n`);
  throw new Exit(2);
}

/** A runtime failure: one actionable line on stderr, exit 1. */
function die(message: string): never {
  process.stderr.write(`switchyard: ${message}\n`);
  throw new Exit(1);
}

/** parseArgs, strict, with a parse error (unknown option, missing value) turned into a usage error of `command`. */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: Command, args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    usage(command, error instanceof Error ? error.message : String(error));
  }
}

/** Config from the environment; an invalid variable is a runtime failure naming it. */
function config(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    die(String(error instanceof Error ? error.message : error).replace(/:\n\s*/, ': ').replace(/\n\s*/g, '; '));
  }
}

/**
 * The URL of the embedded PostgreSQL a running `npm start` keeps on `dataDir`, if one is
 * running (postmaster.pid names its port; the password is kept beside the data
 * directory). Starting a second one on the same directory would stop the first.
 */
function runningEmbeddedUrl(dataDir: string): string | undefined {
  const pg = path.join(path.resolve(dataDir), 'pg');
  try {
    const lines = readFileSync(path.join(pg, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
    process.kill(pid, 0); // throws when it is not running
    const password = readFileSync(`${pg}.password`, 'utf8').trim();
    return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/switchyard`;
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` on a database connection: DATABASE_URL, else the embedded PostgreSQL of a
 * running `npm start`, else a started (and migrated) embedded one, stopped afterwards.
 */
async function withDatabase<T>(cfg: Config, work: (sql: Sql) => Promise<T>): Promise<T> {
  const url = cfg.DATABASE_URL ?? runningEmbeddedUrl(cfg.SWITCHYARD_DATA_DIR);
  if (url) {
    const sql = createSql(url, { max: 2, applicationName: 'switchyard-cli' });
    try {
      return await work(sql);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  const { sql, embedded, deps } = await prepare(cfg, createLogger(cfg.LOG_LEVEL));
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
    await deps.dispatcher?.close();
    await embedded?.stop();
  }
}

/** `serve`, `work`, `all`: runs the role until a signal (src/runtime.ts runRole). */
async function roleCommand(role: Role, args: string[]): Promise<void> {
  const { values, positionals } = parse(role, args, { help: { type: 'boolean' } });
  if (values.help) return help(role);
  if (positionals.length > 0) usage(role, `unexpected argument ${positionals[0]}`);
  const cfg = config();
  await runRole(role, cfg, createLogger(cfg.LOG_LEVEL));
}

/** `migrate`: applies the migrations and exits. */
async function migrateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse('migrate', args, { help: { type: 'boolean' } });
  if (values.help) return help('migrate');
  if (positionals.length > 0) usage('migrate', `unexpected argument ${positionals[0]}`);
  const cfg = config();
  // Migrating opens no secret: the roles that do check the master key when they start.
  const { sql, embedded, deps } = await prepare(cfg, createLogger(cfg.LOG_LEVEL), { checkMasterKey: false });
  await sql.end();
  await deps.dispatcher?.close();
  await embedded?.stop();
  process.stdout.write('migrated\n');
}

/** `merchants create --name <name>`: prints the new merchant's id and API key. */
async function merchantsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse('merchants', args, { help: { type: 'boolean' }, name: { type: 'string' } });
  if (values.help) return help('merchants');
  const [sub, extra] = positionals;
  if (sub !== 'create') usage('merchants', sub === undefined ? 'missing subcommand (create)' : `unknown subcommand ${sub}`);
  if (extra !== undefined) usage('merchants', `unexpected argument ${extra}`);
  const name = values.name?.trim();
  if (!name) usage('merchants', '--name is required');
  if (name.length > 200) usage('merchants', '--name is at most 200 characters');
  const apiKey = generateApiKey();
  const merchant = await withDatabase(config(), async (sql) =>
    insertMerchant(sql, { name, apiKeyHash: await hashApiKey(apiKey), apiKeyPrefix: apiKeyPrefix(apiKey) }),
  );
  process.stdout.write(`id:      ${merchant.id}\nname:    ${merchant.name}\napiKey:  ${apiKey}\n(the API key is shown only this once)\n`);
}

/** `events replay <evt_…> [--endpoint <ep_…>]`: one more attempt of the event's messages. */
async function eventsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse('events', args, { help: { type: 'boolean' }, endpoint: { type: 'string' } });
  if (values.help) return help('events');
  const [sub, eventId, extra] = positionals;
  if (sub !== 'replay') usage('events', sub === undefined ? 'missing subcommand (replay)' : `unknown subcommand ${sub}`);
  if (!eventId) usage('events', 'missing the event id (evt_…)');
  if (extra !== undefined) usage('events', `unexpected argument ${extra}`);
  const endpointId = values.endpoint;
  const outcome = await withDatabase(config(), async (sql) => {
    const [event] = await sql<{ id: string; type: string; merchant_id: string }[]>`
      select id, type, merchant_id from gw.events where id = ${eventId}`;
    if (!event) return { ok: false as const, error: 'event_not_found' as const };
    return sql.begin((tx) =>
      redeliverEvent(tx, {
        merchantId: event.merchant_id,
        event: { id: event.id, type: event.type },
        ...(endpointId === undefined ? {} : { endpointId }),
        at: new Date(),
      }),
    );
  });
  if (!outcome.ok) {
    switch (outcome.error) {
      case 'event_not_found':
        die(`no event ${eventId} (event ids look like evt_…; GET /v1/events lists a merchant's)`);
      case 'endpoint_not_found':
        die(`no endpoint ${String(endpointId)} of this event's merchant (GET /v1/endpoints lists them)`);
      case 'endpoint_disabled':
        die(`endpoint ${String(endpointId)} is disabled; enable it (PATCH /v1/endpoints/${String(endpointId)} {"status":"enabled"}) first`);
      case 'not_subscribed':
        die(`endpoint ${String(endpointId)} has no message for ${eventId} and does not subscribe to its type`);
    }
  }
  const ids = outcome.value;
  process.stdout.write(
    ids.length === 0
      ? `nothing queued: no enabled endpoint has a message for ${eventId} (pass --endpoint to send it to one)\n`
      : `queued ${ids.length} message(s) for one more attempt: ${ids.join(', ')}\n`,
  );
}

/** `ledger check --merchant <mch_…>`: prints the check as JSON; exit 1 when unbalanced. */
async function ledgerCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse('ledger', args, { help: { type: 'boolean' }, merchant: { type: 'string' } });
  if (values.help) return help('ledger');
  const [sub, extra] = positionals;
  if (sub !== 'check') usage('ledger', sub === undefined ? 'missing subcommand (check)' : `unknown subcommand ${sub}`);
  if (extra !== undefined) usage('ledger', `unexpected argument ${extra}`);
  const merchantId = values.merchant;
  if (!merchantId) usage('ledger', '--merchant is required');
  const result = await withDatabase(config(), async (sql) => {
    const [merchant] = await sql<{ id: string }[]>`select id from gw.merchants where id = ${merchantId}`;
    return merchant ? checkLedger(sql, merchantId) : undefined;
  });
  if (!result) die(`no merchant ${merchantId} (merchant ids look like mch_…)`);
  const view = { merchant: merchantId, ...ledgerCheckView(result) };
  process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  if (!result.balanced) process.exitCode = 1;
}

/** `simulate stripe <event-type>`: posts one Stripe-signed event to a running gateway. */
async function simulateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse('simulate', args, {
      help: { type: 'boolean' },
      source: { type: 'string' },
      secret: { type: 'string' },
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      payment: { type: 'string' },
      amount: { type: 'string', default: '2000' },
      currency: { type: 'string', default: 'usd' },
      refunded: { type: 'string' },
  });
  if (values.help) return help('simulate');
  const [provider, type] = positionals;
  if (provider !== 'stripe') usage('simulate', 'simulate supports the provider "stripe" for now');
  if (!type || !(SIMULATED_STRIPE_TYPES as readonly string[]).includes(type)) usage('simulate', `unknown or missing event type ${type ?? ''}`);
  if (!values.source || !values.secret) usage('simulate', '--source and --secret are required');
  const amount = Number(values.amount);
  if (!Number.isSafeInteger(amount) || amount < 0) usage('simulate', '--amount is a whole number of minor units');
  const refunded = values.refunded === undefined ? undefined : Number(values.refunded);
  const event = buildStripeEvent(type as SimulatedStripeType, {
    amount,
    currency: values.currency,
    ...(values.payment ? { paymentIntent: values.payment } : {}),
    ...(refunded !== undefined ? { amountRefunded: refunded } : {}),
  });
  const body = JSON.stringify(event);
  let target: URL;
  try {
    target = new URL(`/inbound/${values.source}`, values.url);
  } catch {
    usage('simulate', `--url ${values.url} is not a URL`);
  }
  const res = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, values.secret, new Date()) },
    body,
  });
  const answer = await res.text();
  const object = (event.data as { object: { id: string } }).object;
  process.stdout.write(`${res.status} ${answer}\n  event ${String(event.id)} (${type}) for ${type === 'charge.refunded' ? `charge ${object.id}` : `payment intent ${object.id}`}\n`);
  if (!res.ok) process.exitCode = 1;
}

/** `listen`: a local endpoint that prints (and optionally verifies) each delivery. */
async function listenCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse('listen', args, { help: { type: 'boolean' }, port: { type: 'string', default: '4000' }, secret: { type: 'string' } });
  if (values.help) return help('listen');
  if (positionals.length > 0) usage('listen', `unexpected argument ${positionals[0]}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('listen', '--port is a TCP port number');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verdict = 'signature not checked (pass --secret)';
      if (values.secret) {
        const r = await verifyStandardWebhooks({ body, headers, secrets: [values.secret], toleranceSeconds: 300, now: new Date() });
        verdict = r.ok ? 'signature verified' : `signature REJECTED: ${r.error.detail}`;
      }
      process.stdout.write(`${new Date().toISOString()} ${req.method} ${req.url} webhook-id=${headers['webhook-id']} — ${verdict}\n${Buffer.from(body).toString('utf8')}\n\n`);
      res.writeHead(200).end();
    });
  });
  server.once('error', (error) => die(`cannot listen on 127.0.0.1:${port}: ${error.message}`));
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening on http://127.0.0.1:${values.port}/ — register it as an endpoint (the gateway needs SWITCHYARD_ALLOW_PRIVATE_URLS=true)\n`);
  });
}

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
    case 'simulate':
      await simulateCommand(rest);
      return false;
    case 'listen':
      await listenCommand(rest);
      return true;
    case undefined:
      process.stderr.write(`${USAGE.main}\n`);
      throw new Exit(2);
    case '--help':
    case '-h':
    case 'help':
      help('main');
      return false;
    default:
      usage('main', `unknown command ${command}`);
  }
}

// Exit explicitly once a one-shot command is done, so that no leftover handle (a pool
// still closing, a timer) keeps the process, or its exit code, waiting.
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
