#!/usr/bin/env node
// (node) `switchyard`: run the gateway, migrate, and the developer tools that send a
// signed PSP event and receive Switchyard's deliveries.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { loadConfig } from './core/config.js';
import { createLogger } from './core/logger.js';
import { prepare } from './runtime.js';
import { STRIPE_EVENT_KINDS } from './inbound/normalize/stripe.js';
import { signStripe } from './inbound/verifiers/testing.js';
import { buildStripeEvent, type SimulatedStripeType } from './simulate/stripe.js';
import { verifyStandardWebhooks } from './inbound/verifiers/standard-webhooks.js';

const HELP = `switchyard <command> [options]

Commands:
  migrate                                   apply graphile-worker's and our migrations, then exit
  simulate stripe <event-type> [options]    post one Stripe-signed event to a running gateway
      --source <src_…>                      the Stripe source's id (required)
      --secret <whsec_…>                    that source's signing secret (required)
      --url <base>                          gateway base URL (default http://127.0.0.1:3000)
      --payment <pi_…>                      PaymentIntent id (default: a new one)
      --amount <minor units>                default 2000
      --currency <code>                     default usd
      --refunded <minor units>              charge.refunded: cumulative refunded amount
  listen [--port 4000] [--secret whsec_…]   a local endpoint that prints each delivery and,
                                            with --secret, verifies its Standard Webhooks signature

Event types for simulate: ${Object.keys(STRIPE_EVENT_KINDS).join(', ')}
Run the gateway itself with \`npm start\`.`;

function fail(message: string): never {
  process.stderr.write(`switchyard: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

async function migrateCommand(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.LOG_LEVEL);
  const { sql, embedded } = await prepare(config, logger);
  await sql.end();
  await embedded?.stop();
  process.stdout.write('migrated\n');
}

async function simulateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      source: { type: 'string' },
      secret: { type: 'string' },
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      payment: { type: 'string' },
      amount: { type: 'string', default: '2000' },
      currency: { type: 'string', default: 'usd' },
      refunded: { type: 'string' },
    },
  });
  const [provider, type] = positionals;
  if (provider !== 'stripe') fail('simulate supports the provider "stripe" for now');
  if (!type || !(type in STRIPE_EVENT_KINDS)) fail(`unknown or missing event type ${type ?? ''}`);
  if (!values.source || !values.secret) fail('--source and --secret are required');
  const amount = Number(values.amount);
  if (!Number.isSafeInteger(amount) || amount < 0) fail('--amount is a whole number of minor units');
  const refunded = values.refunded === undefined ? undefined : Number(values.refunded);
  const event = buildStripeEvent(type as SimulatedStripeType, {
    amount,
    currency: values.currency,
    ...(values.payment ? { paymentIntent: values.payment } : {}),
    ...(refunded !== undefined ? { amountRefunded: refunded } : {}),
  });
  const body = JSON.stringify(event);
  const res = await fetch(new URL(`/inbound/${values.source}`, values.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, values.secret, new Date()) },
    body,
  });
  const answer = await res.text();
  const object = (event.data as { object: { id: string } }).object;
  process.stdout.write(`${res.status} ${answer}\n  event ${String(event.id)} (${type}) for ${type === 'charge.refunded' ? `charge ${object.id}` : `payment intent ${object.id}`}\n`);
  if (!res.ok) process.exit(1);
}

async function listenCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { port: { type: 'string', default: '4000' }, secret: { type: 'string' } } });
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
  server.listen(Number(values.port), '127.0.0.1', () => {
    process.stdout.write(`listening on http://127.0.0.1:${values.port}/ — register it as an endpoint (the gateway needs SWITCHYARD_ALLOW_PRIVATE_URLS=true)\n`);
  });
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'migrate':
      return migrateCommand();
    case 'simulate':
      return simulateCommand(rest);
    case 'listen':
      return listenCommand(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${HELP}\n`);
      return;
    default:
      fail(`unknown command ${command}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`switchyard: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
