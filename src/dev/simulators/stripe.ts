// A Stripe API simulator on msw 2 for the connector's calls (PaymentIntents, Refunds), behaving like test mode
// (https://docs.stripe.com/testing): decline test cards answer 402 `card_error`, `Idempotency-Key` replays the
// first answer (another body under the key is 400 `idempotency_error`), and each effect posts its webhook
// (buildStripeEvent, signed with signStripe) to the source's inbound URL.
import { http, HttpResponse, delay, type HttpHandler } from 'msw';
import { signStripe } from '../../inbound/verifiers/testing.js';
import { buildStripeEvent, buildStripePayoutEvent, type SimulatedStripeType } from '../simulate/stripe.js';
import {
  FailureInjector,
  IdempotencyCache,
  simId,
  WebhookQueue,
  type InjectedFailure,
  type SimulatedCall,
  type WebhookOptions,
} from './core.js';
import { assertSingleMsw } from './msw-copies.js';

/** Options of {@link stripeSimulator}. */
export interface StripeSimulatorOptions {
  /** The API base the connector calls (the source's apiBaseUrl), default https://api.stripe.com. */
  baseUrl?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401, as Stripe). */
  apiKey?: string;
  /** Every answer waits this long first, ms (network and PSP latency; keep it under the caller's timeout). */
  latencyMs?: number;
  /** Where and how to post webhooks; none posted when absent. */
  webhooks?: WebhookOptions;
  /** The simulator's clock (webhook timestamps and signatures), default the real one. */
  clock?: () => Date;
  /** The fee of each charge: `basisPoints` of the amount (rounded half up) plus `fixed` minor units; default 290 + 30 (Stripe US cards). */
  fees?: { basisPoints: number; fixed: number };
  /** The fee of a dispute, minor units (default 1500). */
  disputeFee?: number;
}

/**
 * A balance transaction as the simulator keeps it (https://docs.stripe.com/api/balance_transactions/object), minor
 * units signed as Stripe signs them; `source` the Charge, Refund, Dispute or Payout as `expand[]=data.source` shows it.
 */
export interface SimulatedBalanceTransaction {
  id: string;
  object: 'balance_transaction';
  amount: number;
  currency: string;
  fee: number;
  net: number;
  reporting_category: 'charge' | 'partial_capture_reversal' | 'refund' | 'dispute' | 'payout';
  type: string;
  created: number;
  available_on: number;
  source: { id: string; object: string; charge?: string | null; payment_intent?: string | null };
  /** The automatic payout it was paid out in, once {@link StripeSimulator.payout} made one. */
  payout: string | null;
}

/** An automatic payout the simulator made (https://docs.stripe.com/api/payouts/object). */
export interface SimulatedPayout {
  id: string;
  object: 'payout';
  amount: number;
  currency: string;
  automatic: true;
  status: 'paid';
  arrival_date: number;
  created: number;
  balance_transaction: string;
}

/** A PaymentIntent as the simulator keeps it (https://docs.stripe.com/api/payment_intents/object). */
export interface SimulatedPaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  currency: string;
  capture_method: 'automatic' | 'manual';
  status: 'requires_payment_method' | 'requires_capture' | 'succeeded' | 'canceled';
  metadata: Record<string, string>;
  last_payment_error: { type: string; code: string; decline_code: string; message: string } | null;
  latest_charge: string | null;
  created: number;
  livemode: false;
  /** The charge's cumulative refunded amount (kept here; Stripe keeps it on the Charge). */
  amount_refunded: number;
}

/** A Refund as the simulator keeps it (https://docs.stripe.com/api/refunds/object). */
export interface SimulatedRefund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  charge: string | null;
  payment_intent: string;
  status: 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
  metadata: Record<string, string>;
  created: number;
}

/** A Dispute as the simulator keeps it (https://docs.stripe.com/api/disputes/object); set by tests, Stripe opens them. */
export interface SimulatedDispute {
  id: string;
  object: 'dispute';
  amount: number;
  currency: string;
  charge: string | null;
  payment_intent: string | null;
  status: 'warning_needs_response' | 'needs_response' | 'under_review' | 'won' | 'lost' | 'warning_closed';
  created: number;
}

/** The Stripe simulator: msw handlers, its state, and what it was asked. */
export interface StripeSimulator {
  /** Pass to `setupServer(...sim.handlers)` or `server.use(...sim.handlers)`. */
  handlers: HttpHandler[];
  /** The API base the handlers answer, without a trailing slash. */
  baseUrl: string;
  /** Every request received, in order (the at-most-once proof: count non-replayed calls). */
  calls: SimulatedCall[];
  /** PaymentIntents by id (their Charges are read from them: `GET /v1/charges/{latest_charge}`). */
  paymentIntents: Map<string, SimulatedPaymentIntent>;
  /** Refunds by id, as `POST /v1/refunds` made them (or a test put them). */
  refunds: Map<string, SimulatedRefund>;
  /** Disputes by id: put them here to have `GET /v1/disputes/{id}` answer them. */
  disputes: Map<string, SimulatedDispute>;
  /** Makes the next call(s) time out or answer 500. */
  failNext(failure: InjectedFailure): void;
  /** Webhooks held (delivery `manual`) and sent. */
  webhooks: WebhookQueue;
  /** Every balance transaction, oldest first: charges with their fees, partial capture reversals, refunds, disputes, payouts. */
  balanceTransactions: SimulatedBalanceTransaction[];
  /**
   * Disputes a captured PaymentIntent (its whole amount by default): posts `charge.dispute.created`, and for `lost`
   * also `charge.dispute.closed`, and books the dispute's balance transaction (the amount back, plus the dispute fee).
   * Returns the dispute's id (`dp_…`). Throws for an unknown or uncaptured PaymentIntent.
   */
  dispute(paymentIntentId: string, options?: { amount?: number; status?: 'needs_response' | 'lost' }): string;
  /**
   * Pays out, per currency, every balance transaction not paid out yet (one automatic payout each, of their net sum)
   * and posts `payout.paid` for each; `GET /v1/balance_transactions?payout=po_…` then lists its transactions.
   */
  payout(): SimulatedPayout[];
}

// https://docs.stripe.com/testing#declined-payments
const DECLINES: Record<string, { decline_code: string; code: string; message: string }> = {
  pm_card_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_visa_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  '4000000000000002': { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: {
    code: 'card_declined',
    decline_code: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  '4000000000009995': { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_chargeDeclinedExpiredCard: { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
  '4000000000000069': { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
};

const stripeError = (status: number, type: string, message: string, extra: Record<string, unknown> = {}) =>
  HttpResponse.json({ error: { type, message, ...extra } }, { status });

/** Reads `metadata[k]=v` pairs of a Stripe form body. */
function metadataOf(form: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of form) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m) out[m[1]!] = v;
  }
  return out;
}

/**
 * A Stripe simulator. Use its `handlers` with msw's `setupServer`; read `calls` to count
 * what reached "Stripe"; `failNext({ mode: 'timeout' })` to make the next call hang past the
 * client's timeout after taking effect.
 * Throws when the msw it imports is another copy, of another version, than the project's
 * (switchyard linked rather than installed: see msw-copies.ts), since msw would ignore its handlers.
 *
 * @example
 * const sim = stripeSimulator({ webhooks: { url: `http://localhost${source.inboundUrl}`, secret, send: (r) => app.request(r) } });
 * const server = setupServer(...sim.handlers); server.listen();
 */
export function stripeSimulator(options: StripeSimulatorOptions = {}): StripeSimulator {
  assertSingleMsw();
  const base = (options.baseUrl ?? 'https://api.stripe.com').replace(/\/+$/, '');
  const clock = options.clock ?? (() => new Date());
  const paymentIntents = new Map<string, SimulatedPaymentIntent>();
  const refunds = new Map<string, SimulatedRefund>();
  const disputes = new Map<string, SimulatedDispute>();
  const calls: SimulatedCall[] = [];
  const cache = new IdempotencyCache();
  const failures = new FailureInjector();
  const webhooks = new WebhookQueue(options.webhooks);
  const balanceTransactions: SimulatedBalanceTransaction[] = [];
  const fees = options.fees ?? { basisPoints: 290, fixed: 30 };

  /** Books one balance transaction; `fee` in minor units, positive (Stripe keeps it). */
  const book = (
    category: SimulatedBalanceTransaction['reporting_category'],
    amount: number,
    fee: number,
    currency: string,
    source: SimulatedBalanceTransaction['source'],
  ): SimulatedBalanceTransaction => {
    const created = Math.floor(clock().getTime() / 1000);
    const txn: SimulatedBalanceTransaction = {
      id: simId('txn'),
      object: 'balance_transaction',
      amount,
      currency,
      fee,
      net: amount - fee,
      reporting_category: category,
      type: category === 'partial_capture_reversal' ? 'adjustment' : category === 'dispute' ? 'adjustment' : category,
      created,
      available_on: created + 2 * 86_400,
      source,
      payout: null,
    };
    balanceTransactions.push(txn);
    return txn;
  };

  /** The charge's balance transactions once a PaymentIntent is captured: the charge (authorized amount, less the fee), and the uncaptured part back. */
  const bookCapture = (pi: SimulatedPaymentIntent): void => {
    const charge = { id: pi.latest_charge!, object: 'charge', payment_intent: pi.id };
    // integer arithmetic, half up: the fee of a charge in minor units
    const fee = Math.floor((pi.amount_received * fees.basisPoints + 5_000) / 10_000) + fees.fixed;
    book('charge', pi.amount, fee, pi.currency, charge);
    if (pi.amount_received < pi.amount) book('partial_capture_reversal', pi.amount_received - pi.amount, 0, pi.currency, charge);
  };

  /** Posts a Stripe event of an object the payment builders do not make (payouts), signed as the others. */
  const emitObject = (type: string, object: Record<string, unknown>): void => {
    const at = clock();
    const body = JSON.stringify({
      id: simId('evt'),
      object: 'event',
      api_version: '2024-06-20',
      created: Math.floor(at.getTime() / 1000),
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    });
    webhooks.push(async () => {
      const hooks = options.webhooks!;
      const signature = await signStripe(body, hooks.secret, clock());
      return new Request(hooks.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body,
      });
    });
  };

  const emit = (type: SimulatedStripeType, pi: SimulatedPaymentIntent): void => {
    const at = clock();
    const event = buildStripeEvent(type, {
      paymentIntent: pi.id,
      amount: type === 'charge.refunded' ? pi.amount_received : pi.amount,
      currency: pi.currency,
      amountRefunded: pi.amount_refunded,
      at,
      base: { charge: { object: 'charge', livemode: false, metadata: pi.metadata } },
    });
    const object = (event.data as { object: Record<string, unknown> }).object;
    if (type !== 'charge.refunded') Object.assign(object, snapshot(pi));
    const body = JSON.stringify(event);
    webhooks.push(async () => {
      const hooks = options.webhooks!;
      const signature = await signStripe(body, hooks.secret, clock());
      return new Request(hooks.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body,
      });
    });
  };

  const snapshot = (pi: SimulatedPaymentIntent): Record<string, unknown> => {
    const { amount_refunded: _r, ...rest } = pi;
    return { ...rest };
  };

  /** Wraps a handler body with auth, failure injection, idempotency and the call log. */
  const handle =
    (run: (req: Request, form: URLSearchParams, params: Record<string, string>) => Response | Promise<Response>) =>
    async ({ request, params }: { request: Request; params: Record<string, string | readonly string[] | undefined> }) => {
      if (options.latencyMs) await delay(options.latencyMs);
      const url = new URL(request.url);
      const key = request.headers.get('idempotency-key');
      const log = (status: number, replayed: boolean) =>
        calls.push({ method: request.method, path: url.pathname, idempotencyKey: key, replayed, status });
      if (options.apiKey && request.headers.get('authorization') !== `Bearer ${options.apiKey}`) {
        log(401, false);
        return stripeError(401, 'invalid_request_error', 'Invalid API Key provided.');
      }
      const text = request.method === 'GET' ? '' : await request.text();
      const fingerprint = `${request.method} ${url.pathname} ${text}`;
      if (key) {
        const hit = cache.get(key);
        if (hit) {
          if (hit.fingerprint !== fingerprint) {
            log(400, false);
            return stripeError(
              400,
              'idempotency_error',
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            );
          }
          log(hit.status, true);
          return HttpResponse.json(hit.body as never, { status: hit.status, headers: { 'idempotent-replayed': 'true' } });
        }
      }
      const failure = failures.take();
      if (failure?.mode === 'server_error') {
        const body = { error: { type: 'api_error', message: 'An unknown error occurred.' } };
        if (key) cache.set(key, fingerprint, 500, body); // Stripe replays a stored 500 too
        log(500, false);
        return HttpResponse.json(body, { status: 500 });
      }
      const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
      const res =
        failure?.mode === 'timeout' && failure.afterEffect === false ? undefined : await run(request, new URLSearchParams(text), p);
      const status = res?.status ?? 0;
      const body = res ? await res.clone().json() : undefined;
      if (key && res && status !== 401) cache.set(key, fingerprint, status, body);
      log(status, false);
      if (failure?.mode === 'timeout') {
        await delay(failure.delayMs ?? 5000);
        return res ?? stripeError(500, 'api_error', 'An unknown error occurred.');
      }
      return res!;
    };

  const handlers: HttpHandler[] = [
    http.post(
      `${base}/v1/payment_intents`,
      handle((_req, form) => {
        const amount = Number(form.get('amount'));
        const currency = form.get('currency') ?? '';
        if (!Number.isInteger(amount) || amount < 1 || !/^[a-z]{3}$/.test(currency)) {
          return stripeError(400, 'invalid_request_error', 'Missing or invalid amount or currency.', { param: 'amount' });
        }
        const pm = form.get('payment_method');
        const confirm = form.get('confirm') === 'true';
        const pi: SimulatedPaymentIntent = {
          id: simId('pi'),
          object: 'payment_intent',
          amount,
          amount_capturable: 0,
          amount_received: 0,
          currency,
          capture_method: form.get('capture_method') === 'manual' ? 'manual' : 'automatic',
          status: 'requires_payment_method',
          metadata: metadataOf(form),
          last_payment_error: null,
          latest_charge: null,
          created: Math.floor(clock().getTime() / 1000),
          livemode: false,
          amount_refunded: 0,
        };
        paymentIntents.set(pi.id, pi);
        if (!confirm || !pm) return HttpResponse.json(snapshot(pi));
        const decline = DECLINES[pm];
        if (decline) {
          pi.last_payment_error = { type: 'card_error', ...decline };
          emit('payment_intent.payment_failed', pi);
          return stripeError(402, 'card_error', decline.message, {
            code: decline.code,
            decline_code: decline.decline_code,
            payment_intent: snapshot(pi),
          });
        }
        pi.latest_charge = simId('ch');
        if (pi.capture_method === 'manual') {
          pi.status = 'requires_capture';
          pi.amount_capturable = amount;
          emit('payment_intent.amount_capturable_updated', pi);
        } else {
          pi.status = 'succeeded';
          pi.amount_received = amount;
          bookCapture(pi);
          emit('payment_intent.succeeded', pi);
        }
        return HttpResponse.json(snapshot(pi));
      }),
    ),
    http.post(
      `${base}/v1/payment_intents/:id/capture`,
      handle((_req, form, params) => {
        const pi = paymentIntents.get(params.id!);
        if (!pi) return stripeError(404, 'invalid_request_error', `No such payment_intent: '${params.id}'`, { code: 'resource_missing' });
        if (pi.status !== 'requires_capture') {
          return stripeError(
            400,
            'invalid_request_error',
            `This PaymentIntent could not be captured because it has a status of ${pi.status}.`,
            { code: 'payment_intent_unexpected_state' },
          );
        }
        const amount = form.has('amount_to_capture') ? Number(form.get('amount_to_capture')) : pi.amount_capturable;
        if (!Number.isInteger(amount) || amount < 1 || amount > pi.amount_capturable) {
          return stripeError(400, 'invalid_request_error', 'amount_to_capture must be at most the amount capturable.', {
            param: 'amount_to_capture',
          });
        }
        pi.status = 'succeeded';
        pi.amount_received = amount;
        pi.amount_capturable = 0;
        bookCapture(pi);
        emit('payment_intent.succeeded', pi);
        return HttpResponse.json(snapshot(pi));
      }),
    ),
    http.post(
      `${base}/v1/payment_intents/:id/cancel`,
      handle((_req, _form, params) => {
        const pi = paymentIntents.get(params.id!);
        if (!pi) return stripeError(404, 'invalid_request_error', `No such payment_intent: '${params.id}'`, { code: 'resource_missing' });
        if (pi.status === 'succeeded' || pi.status === 'canceled') {
          return stripeError(
            400,
            'invalid_request_error',
            `You cannot cancel this PaymentIntent because it has a status of ${pi.status}.`,
            { code: 'payment_intent_unexpected_state' },
          );
        }
        pi.status = 'canceled';
        pi.amount_capturable = 0;
        emit('payment_intent.canceled', pi);
        return HttpResponse.json(snapshot(pi));
      }),
    ),
    http.get(
      `${base}/v1/payment_intents/:id`,
      handle((req, _form, params) => {
        const pi = paymentIntents.get(params.id!);
        if (!pi) return stripeError(404, 'invalid_request_error', `No such payment_intent: '${params.id}'`, { code: 'resource_missing' });
        const expand = new URL(req.url).searchParams.getAll('expand[]');
        const out: Record<string, unknown> = snapshot(pi);
        if (expand.includes('latest_charge') && pi.latest_charge) {
          out.latest_charge = {
            id: pi.latest_charge,
            object: 'charge',
            amount: pi.amount,
            amount_captured: pi.amount_received,
            amount_refunded: pi.amount_refunded,
            payment_intent: pi.id,
          };
        }
        return HttpResponse.json(out);
      }),
    ),
    http.post(
      `${base}/v1/refunds`,
      handle((_req, form) => {
        const pi = paymentIntents.get(form.get('payment_intent') ?? '');
        if (!pi) return stripeError(404, 'invalid_request_error', 'No such payment_intent.', { code: 'resource_missing' });
        const refundable = pi.amount_received - pi.amount_refunded;
        if (pi.status !== 'succeeded' || refundable <= 0) {
          return stripeError(400, 'invalid_request_error', 'This charge has already been refunded or was not captured.', {
            code: 'charge_already_refunded',
          });
        }
        const amount = form.has('amount') ? Number(form.get('amount')) : refundable;
        if (!Number.isInteger(amount) || amount < 1 || amount > refundable) {
          return stripeError(
            400,
            'invalid_request_error',
            `Refund amount (${amount}) is greater than unrefunded amount on charge (${refundable})`,
            { code: 'amount_too_large' },
          );
        }
        pi.amount_refunded += amount;
        const refundId = simId('re');
        book('refund', -amount, 0, pi.currency, { id: refundId, object: 'refund', charge: pi.latest_charge, payment_intent: pi.id });
        emit('charge.refunded', pi);
        const refund: SimulatedRefund = {
          id: refundId,
          object: 'refund',
          amount,
          currency: pi.currency,
          charge: pi.latest_charge,
          payment_intent: pi.id,
          status: 'succeeded',
          metadata: metadataOf(form),
          created: Math.floor(clock().getTime() / 1000),
        };
        refunds.set(refund.id, refund);
        return HttpResponse.json(refund);
      }),
    ),
    // The reads of verify or fetch (README "Verify or fetch"): https://docs.stripe.com/api/charges/retrieve,
    // /refunds/retrieve, /disputes/retrieve; an unknown id is 404 `resource_missing`, as Stripe answers.
    http.get(
      `${base}/v1/charges/:id`,
      handle((_req, _form, params) => {
        const pi = [...paymentIntents.values()].find((p) => p.latest_charge === params.id);
        if (!pi) return stripeError(404, 'invalid_request_error', `No such charge: '${params.id}'`, { code: 'resource_missing' });
        return HttpResponse.json({
          id: pi.latest_charge,
          object: 'charge',
          amount: pi.amount,
          amount_captured: pi.amount_received,
          amount_refunded: pi.amount_refunded,
          captured: pi.amount_received > 0,
          refunded: pi.amount_received > 0 && pi.amount_refunded >= pi.amount_received,
          currency: pi.currency,
          payment_intent: pi.id,
          metadata: pi.metadata,
          livemode: false,
        });
      }),
    ),
    http.get(
      `${base}/v1/refunds/:id`,
      handle((_req, _form, params) => {
        const refund = refunds.get(params.id!);
        if (!refund) return stripeError(404, 'invalid_request_error', `No such refund: '${params.id}'`, { code: 'resource_missing' });
        return HttpResponse.json(refund);
      }),
    ),
    http.get(
      `${base}/v1/disputes/:id`,
      handle((_req, _form, params) => {
        const dispute = disputes.get(params.id!);
        if (!dispute) return stripeError(404, 'invalid_request_error', `No such dispute: '${params.id}'`, { code: 'resource_missing' });
        return HttpResponse.json(dispute);
      }),
    ),
    http.get(
      `${base}/v1/balance_transactions`,
      handle((req) => {
        // https://docs.stripe.com/api/balance_transactions/list: newest first, `starting_after` pages towards older ones
        const q = new URL(req.url).searchParams;
        const payout = q.get('payout');
        const limit = Math.min(100, Math.max(1, Number(q.get('limit') ?? 10)));
        const expand = q.getAll('expand[]').includes('data.source');
        let list = balanceTransactions.filter((t) => payout === null || t.payout === payout).reverse();
        const after = q.get('starting_after');
        if (after) list = list.slice(list.findIndex((t) => t.id === after) + 1);
        const data = list.slice(0, limit).map(({ payout: _p, ...t }) => ({ ...t, source: expand ? t.source : t.source.id }));
        return HttpResponse.json({ object: 'list', url: '/v1/balance_transactions', has_more: list.length > limit, data });
      }),
    ),
  ];

  const dispute: StripeSimulator['dispute'] = (paymentIntentId, opts = {}) => {
    const pi = paymentIntents.get(paymentIntentId);
    if (!pi || pi.amount_received === 0) throw new Error(`no captured PaymentIntent ${paymentIntentId} to dispute`);
    const amount = opts.amount ?? pi.amount_received;
    const id = simId('dp');
    book('dispute', -amount, options.disputeFee ?? 1500, pi.currency, {
      id,
      object: 'dispute',
      charge: pi.latest_charge,
      payment_intent: pi.id,
    });
    const push = (type: 'charge.dispute.created' | 'charge.dispute.closed', status: 'needs_response' | 'lost') => {
      const event = buildStripeEvent(type, {
        paymentIntent: pi.id,
        amount,
        currency: pi.currency,
        at: clock(),
        dispute: { id, amount, status },
      });
      emitObject(type, { ...(event.data as { object: Record<string, unknown> }).object, charge: pi.latest_charge });
    };
    push('charge.dispute.created', 'needs_response');
    if (opts.status === 'lost') push('charge.dispute.closed', 'lost');
    return id;
  };

  const payout = (): SimulatedPayout[] => {
    const byCurrency = new Map<string, SimulatedBalanceTransaction[]>();
    for (const t of balanceTransactions) if (t.payout === null) byCurrency.set(t.currency, [...(byCurrency.get(t.currency) ?? []), t]);
    const made: SimulatedPayout[] = [];
    for (const [currency, txns] of byCurrency) {
      const id = simId('po');
      const amount = txns.reduce((sum, t) => sum + t.net, 0);
      const own = book('payout', -amount, 0, currency, { id, object: 'payout' });
      for (const t of [...txns, own]) t.payout = id;
      const po: SimulatedPayout = {
        id,
        object: 'payout',
        amount,
        currency,
        automatic: true,
        status: 'paid',
        arrival_date: own.available_on,
        created: own.created,
        balance_transaction: own.id,
      };
      made.push(po);
      const event = buildStripePayoutEvent('payout.paid', { payoutId: id, amount, currency, at: clock() });
      emitObject('payout.paid', { ...(event.data as { object: Record<string, unknown> }).object, ...po });
    }
    return made;
  };

  return {
    handlers,
    baseUrl: base,
    calls,
    paymentIntents,
    refunds,
    disputes,
    webhooks,
    failNext: (f) => failures.add(f),
    balanceTransactions,
    dispute,
    payout,
  };
}
