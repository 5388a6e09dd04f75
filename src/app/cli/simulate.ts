// (node) `switchyard simulate <stripe|adyen> <type>`: post one PSP-signed event to a running gateway.
import { z } from 'zod';
import {
  buildAdyenNotification,
  buildAdyenReportAvailable,
  SIMULATED_ADYEN_EVENT_CODES,
  type SimulatedAdyenEventCode,
} from '../../dev/simulate/adyen.js';
import {
  buildStripeEvent,
  buildStripePayoutEvent,
  SIMULATED_STRIPE_PAYOUT_TYPES,
  isStripeDisputeType,
  isStripeRefundType,
  SIMULATED_STRIPE_TYPES,
  STRIPE_DISPUTE_STATUSES,
  STRIPE_REFUND_STATUSES,
  type SimulatedStripeType,
} from '../../dev/simulate/stripe.js';
import { signAdyen, signStripe } from '../../inbound/verifiers/testing.js';
import { die, help, parse, usageError } from './args.js';

const USAGE = `switchyard simulate <stripe|adyen> <event-type> [options]

Posts one event, signed as the PSP signs it, to a running gateway's inbound route.
  --source <src_…>            the source's id (required)
  --secret <secret>           that source's signing secret (required): Stripe whsec_…, Adyen the HMAC key (hex)
  --url <base>                gateway base URL (default http://127.0.0.1:3000)
  --payment <reference>       the payment: a Stripe PaymentIntent pi_…, an Adyen pspReference (default: a new one)
  --amount <minor units>      default 2000; for refund and dispute events, the refund's or dispute's own amount
  --currency <code>           default usd for Stripe, EUR for Adyen

Stripe only:
  --refunded <minor units>    charge.refunded: the cumulative refunded amount (default: all of it)
  --refund <re_…>             refund.*, charge.refund.updated: the refund's id (default: a new one)
  --dispute <dp_…>            charge.dispute.*: the dispute's id (default: a new one)
  --payout <po_…>             payout.*: the payout's id (default: a new one)
  --status <status>           the refund's status: ${STRIPE_REFUND_STATUSES.join(', ')}
                              (default pending for refund.created, else succeeded);
                              or the dispute's: ${STRIPE_DISPUTE_STATUSES.join(', ')}
                              (default needs_response, under_review when updated, lost when closed)
Adyen only:
  --operation <pspReference>  a modification's or dispute's own pspReference (default: a new one)
  --success <true|false>      Adyen's success flag (default true: false refuses or fails the operation)
  --reference <text>          the merchantReference
  --merchant-account <code>   the merchantAccountCode (default SwitchyardSimulated)
  --report-url <url>          REPORT_AVAILABLE: the report's download URL (required there); --payment is
                              its file name (default settlement_detail_report_batch_1.csv)

Stripe event types: ${[...SIMULATED_STRIPE_TYPES, ...SIMULATED_STRIPE_PAYOUT_TYPES].join(', ')}
Adyen eventCodes: ${[...SIMULATED_ADYEN_EVENT_CODES, 'REPORT_AVAILABLE'].join(', ')}`;

const OPTIONS = {
  help: { type: 'boolean' },
  source: { type: 'string' },
  secret: { type: 'string' },
  url: { type: 'string', default: 'http://127.0.0.1:3000' },
  payment: { type: 'string' },
  amount: { type: 'string', default: '2000' },
  currency: { type: 'string' },
  refunded: { type: 'string' },
  refund: { type: 'string' },
  dispute: { type: 'string' },
  payout: { type: 'string' },
  status: { type: 'string' },
  operation: { type: 'string' },
  success: { type: 'string' },
  reference: { type: 'string' },
  'merchant-account': { type: 'string' },
  'report-url': { type: 'string' },
} as const;

const STRIPE_ONLY = ['refunded', 'refund', 'dispute', 'payout', 'status'] as const;
const ADYEN_ONLY = ['operation', 'success', 'reference', 'merchant-account', 'report-url'] as const;

const minorUnits = (option: string) =>
  z
    .string()
    .regex(/^\d+$/, `--${option} is a whole number of minor units`)
    .transform(Number)
    .refine(Number.isSafeInteger, `--${option} is at most ${Number.MAX_SAFE_INTEGER}`);

const common = z.object({
  source: z.string({ error: '--source and --secret are required' }).regex(/^src_\w+$/, '--source is a source id (src_…)'),
  secret: z.string({ error: '--source and --secret are required' }).min(1, '--secret is empty'),
  url: z.url({ protocol: /^https?$/, error: (i) => `--url ${String(i.input)} is not an http(s) URL` }),
  payment: z.string().trim().min(1).max(255).optional(),
  amount: minorUnits('amount'),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, '--currency is a three-letter ISO 4217 code')
    .optional(),
});

const stripeOptions = common.extend({
  refunded: minorUnits('refunded').optional(),
  refund: z
    .string()
    .regex(/^re_\w+$/, '--refund is a refund id (re_…)')
    .optional(),
  dispute: z
    .string()
    .regex(/^dp_\w+$/, '--dispute is a dispute id (dp_…)')
    .optional(),
  payout: z
    .string()
    .regex(/^po_\w+$/, '--payout is a payout id (po_…)')
    .optional(),
  status: z.string().optional(),
});

const adyenOptions = common.extend({
  operation: z.string().trim().min(1).max(255).optional(),
  success: z.enum(['true', 'false'], { error: '--success is true or false' }).default('true'),
  reference: z.string().max(255).optional(),
  'merchant-account': z.string().trim().min(1).max(255).optional(),
  'report-url': z.url({ protocol: /^https?$/, error: '--report-url is an http(s) URL' }).optional(),
});

/** The options, validated by `schema`; the first problem is a usage error. */
function validate<S extends z.ZodType>(schema: S, values: Record<string, unknown>): z.output<S> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) usageError(USAGE, parsed.error.issues[0]?.message ?? 'invalid options');
  return parsed.data;
}

/**
 * `simulate <stripe|adyen> <type>`: posts one signed event and prints the gateway's answer and
 * what was sent. Exit 1 when the answer is not 2xx or the gateway cannot be reached; 2 for bad usage.
 */
export async function simulateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, OPTIONS);
  if (values.help) return help(USAGE);
  const [provider, type, ...extra] = positionals;
  if (extra.length > 0) usageError(USAGE, `unexpected argument ${extra[0]}`);
  if (provider === 'stripe') {
    misplaced(values, ADYEN_ONLY, 'Adyen');
    return simulateStripe(type, values);
  }
  if (provider === 'adyen') {
    misplaced(values, STRIPE_ONLY, 'Stripe');
    return simulateAdyen(type, values);
  }
  usageError(USAGE, provider ? `unknown provider ${provider}: simulate knows stripe and adyen` : 'which provider? stripe or adyen');
}

/** A usage error when an option of the other provider was given. */
function misplaced(values: Record<string, unknown>, options: readonly string[], owner: string): void {
  const given = options.find((o) => values[o] !== undefined);
  if (given) usageError(USAGE, `--${given} is for ${owner} events`);
}

async function simulateStripe(type: string | undefined, values: Record<string, unknown>): Promise<void> {
  if ((SIMULATED_STRIPE_PAYOUT_TYPES as readonly string[]).includes(type ?? '')) return simulateStripePayout(type as never, values);
  if (values.payout !== undefined) usageError(USAGE, '--payout goes with payout.paid and payout.reconciliation_completed');
  if (!type || !(SIMULATED_STRIPE_TYPES as readonly string[]).includes(type))
    usageError(USAGE, type ? `unknown Stripe event type ${type}` : 'which Stripe event type?');
  const t = type as SimulatedStripeType;
  const o = validate(stripeOptions, values);
  const refundType = isStripeRefundType(t);
  const disputeType = isStripeDisputeType(t);
  if (o.refunded !== undefined && t !== 'charge.refunded') usageError(USAGE, '--refunded goes with charge.refunded');
  if (o.refund && !refundType) usageError(USAGE, '--refund goes with refund.created, refund.updated and charge.refund.updated');
  if (o.dispute && !disputeType) usageError(USAGE, '--dispute goes with the charge.dispute.* types');
  const statuses: readonly string[] = refundType ? STRIPE_REFUND_STATUSES : disputeType ? STRIPE_DISPUTE_STATUSES : [];
  if (o.status !== undefined && !statuses.includes(o.status)) {
    usageError(
      USAGE,
      statuses.length === 0
        ? `--status goes with refund and dispute events, not ${t}`
        : `--status ${o.status} is not a ${refundType ? 'refund' : 'dispute'} status: ${statuses.join(', ')}`,
    );
  }
  const status = o.status as never;
  const event = buildStripeEvent(t, {
    amount: o.amount,
    currency: (o.currency ?? 'usd').toLowerCase(),
    ...(o.payment ? { paymentIntent: o.payment } : {}),
    ...(o.refunded !== undefined ? { amountRefunded: o.refunded } : {}),
    ...(refundType ? { refund: { amount: o.amount, ...(o.refund ? { id: o.refund } : {}), ...(o.status ? { status } : {}) } } : {}),
    ...(disputeType ? { dispute: { amount: o.amount, ...(o.dispute ? { id: o.dispute } : {}), ...(o.status ? { status } : {}) } } : {}),
  });
  const body = JSON.stringify(event);
  const signature = await signStripe(body, o.secret, new Date());
  const answer = await post(o.url, o.source, body, { 'stripe-signature': signature });
  const object = (event.data as { object: { id: string; object: string; payment_intent?: string; status?: string } }).object;
  const subject =
    object.object === 'payment_intent'
      ? `payment intent ${object.id}`
      : `${object.object} ${object.id}${object.status && object.object !== 'charge' ? ` (${object.status})` : ''} of payment intent ${object.payment_intent}`;
  process.stdout.write(`${answer}  event ${String(event.id)} (${t}) for ${subject}\n`);
}

/** `payout.paid` / `payout.reconciliation_completed` of an automatic payout: the gateway queues the pull of its report. */
async function simulateStripePayout(type: (typeof SIMULATED_STRIPE_PAYOUT_TYPES)[number], values: Record<string, unknown>): Promise<void> {
  const o = validate(stripeOptions, values);
  if (o.refunded !== undefined || o.refund || o.dispute || o.status) usageError(USAGE, `${type} takes --payout, --amount and --currency`);
  const event = buildStripePayoutEvent(type, {
    amount: o.amount,
    currency: (o.currency ?? 'usd').toLowerCase(),
    ...(o.payout ? { payoutId: o.payout } : {}),
  });
  const body = JSON.stringify(event);
  const answer = await post(o.url, o.source, body, { 'stripe-signature': await signStripe(body, o.secret, new Date()) });
  const payout = (event.data as { object: { id: string } }).object.id;
  process.stdout.write(`${answer}  event ${String(event.id)} (${type}) for payout ${payout}\n`);
}

async function simulateAdyen(code: string | undefined, values: Record<string, unknown>): Promise<void> {
  if (code === 'REPORT_AVAILABLE') return simulateAdyenReport(values);
  if (values['report-url'] !== undefined) usageError(USAGE, '--report-url goes with REPORT_AVAILABLE');
  if (!code || !(SIMULATED_ADYEN_EVENT_CODES as readonly string[]).includes(code))
    usageError(USAGE, code ? `unknown Adyen eventCode ${code}` : 'which Adyen eventCode?');
  const c = code as SimulatedAdyenEventCode;
  const o = validate(adyenOptions, values);
  if (!/^([0-9a-fA-F]{2})+$/.test(o.secret)) usageError(USAGE, '--secret for Adyen is the HMAC key in hex, as the Customer Area shows it');
  if (o.operation && c === 'AUTHORISATION')
    usageError(USAGE, "--operation goes with the other eventCodes (AUTHORISATION's pspReference is --payment)");
  const notification = buildAdyenNotification(c, {
    amount: o.amount,
    currency: (o.currency ?? 'EUR').toUpperCase(),
    success: o.success === 'true',
    ...(o.payment ? { payment: o.payment } : {}),
    ...(o.operation ? { operation: o.operation } : {}),
    ...(o.reference !== undefined ? { merchantReference: o.reference } : {}),
    ...(o['merchant-account'] ? { merchantAccount: o['merchant-account'] } : {}),
  });
  const body = await signAdyen(notification, o.secret);
  const answer = await post(o.url, o.source, body, {});
  const item = notification.notificationItems[0]!.NotificationRequestItem as { pspReference: string; originalReference?: string };
  const subject = item.originalReference ? `${item.pspReference} of payment ${item.originalReference}` : `payment ${item.pspReference}`;
  process.stdout.write(`${answer}  notification ${c} (success ${o.success}) for ${subject}\n`);
}

/** REPORT_AVAILABLE of a settlement details report: the gateway queues its download. */
async function simulateAdyenReport(values: Record<string, unknown>): Promise<void> {
  const o = validate(adyenOptions, values);
  if (!/^([0-9a-fA-F]{2})+$/.test(o.secret)) usageError(USAGE, '--secret for Adyen is the HMAC key in hex, as the Customer Area shows it');
  if (!o['report-url']) usageError(USAGE, 'REPORT_AVAILABLE needs --report-url, the URL the report is downloaded from');
  const file = o.payment ?? 'settlement_detail_report_batch_1.csv';
  const notification = buildAdyenReportAvailable(file, o['report-url'], {
    ...(o['merchant-account'] ? { merchantAccount: o['merchant-account'] } : {}),
  });
  const answer = await post(o.url, o.source, await signAdyen(notification, o.secret), {});
  process.stdout.write(`${answer}  notification REPORT_AVAILABLE for ${file}\n`);
}

/** POSTs `body` to the source's inbound route; returns the status line and answer. Not 2xx: exit code 1. */
async function post(base: string, source: string, body: string, headers: Record<string, string>): Promise<string> {
  const target = new URL(`/inbound/${source}`, base);
  let res: Response;
  try {
    res = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  } catch (error) {
    // fetch's own message is "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND…).
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    die(
      `cannot reach the gateway at ${target.origin} (${cause instanceof Error ? cause.message : String(cause)}): is it running? Else pass its address with --url`,
    );
  }
  if (!res.ok) process.exitCode = 1;
  return `${res.status} ${await res.text()}\n`;
}
