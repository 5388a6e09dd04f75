// (node) `switchyard simulate stripe`: post one Stripe-signed event to a running gateway.
import { buildStripeEvent, SIMULATED_STRIPE_TYPES, type SimulatedStripeType } from '../../dev/simulate/stripe.js';
import { signStripe } from '../../inbound/verifiers/testing.js';
import { help, parse, usageError } from './args.js';

const USAGE = `switchyard simulate stripe <event-type> [options]

Posts one Stripe-signed event to a running gateway.
  --source <src_…>          the Stripe source's id (required)
  --secret <whsec_…>        that source's signing secret (required)
  --url <base>              gateway base URL (default http://127.0.0.1:3000)
  --payment <pi_…>          PaymentIntent id (default: a new one)
  --amount <minor units>    default 2000
  --currency <code>         default usd
  --refunded <minor units>  charge.refunded: cumulative refunded amount

Event types: ${SIMULATED_STRIPE_TYPES.join(', ')}`;

/** `simulate stripe <event-type>`: prints the gateway's answer; exit 1 when it is not 2xx. */
export async function simulateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, {
    help: { type: 'boolean' },
    source: { type: 'string' },
    secret: { type: 'string' },
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    payment: { type: 'string' },
    amount: { type: 'string', default: '2000' },
    currency: { type: 'string', default: 'usd' },
    refunded: { type: 'string' },
  });
  if (values.help) return help(USAGE);
  const [provider, type] = positionals;
  if (provider !== 'stripe') usageError(USAGE, 'simulate supports the provider "stripe" for now');
  if (!type || !(SIMULATED_STRIPE_TYPES as readonly string[]).includes(type))
    usageError(USAGE, `unknown or missing event type ${type ?? ''}`);
  if (!values.source || !values.secret) usageError(USAGE, '--source and --secret are required');
  const amount = Number(values.amount);
  if (!Number.isSafeInteger(amount) || amount < 0) usageError(USAGE, '--amount is a whole number of minor units');
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
    usageError(USAGE, `--url ${values.url} is not a URL`);
  }
  const res = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': await signStripe(body, values.secret, new Date()) },
    body,
  });
  const answer = await res.text();
  const object = (event.data as { object: { id: string } }).object;
  process.stdout.write(
    `${res.status} ${answer}\n  event ${String(event.id)} (${type}) for ${type === 'charge.refunded' ? `charge ${object.id}` : `payment intent ${object.id}`}\n`,
  );
  if (!res.ok) process.exitCode = 1;
}
