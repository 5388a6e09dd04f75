// An Adyen Checkout API (v71) simulator on msw 2 for the connector's calls (`/payments`,
// `/captures`, `/cancels`, `/refunds`). As in Adyen's test environment, the card's `holderName`
// (or `RequestedTestAcquirerResponseCode`) picks a refusal
// (https://docs.adyen.com/development-resources/testing/result-codes); modifications answer
// `received` and their outcome comes by webhook, signed with signAdyen. `Idempotency-Key`
// replays the first answer.
import { http, HttpResponse, delay, type HttpHandler } from 'msw';
import { formatMinor } from '../../core/money.js';
import { signAdyen } from '../../inbound/verifiers/testing.js';
import { buildAdyenReportAvailable, adyenReference as pspRef } from '../simulate/adyen.js';
import { FailureInjector, IdempotencyCache, type InjectedFailure, type SimulatedCall, WebhookQueue, type WebhookOptions } from './core.js';
import { assertSingleMsw } from './msw-copies.js';

/** Options of {@link adyenSimulator}. */
export interface AdyenSimulatorOptions {
  /** The API base the connector calls (the source's apiBaseUrl), default https://checkout-test.adyen.com/v71. */
  baseUrl?: string;
  /** When set, requests must carry `X-API-Key: <apiKey>` (else 401). */
  apiKey?: string;
  /** Every answer waits this long first, ms (network and PSP latency; keep it under the caller's timeout). */
  latencyMs?: number;
  /** Where and how to post webhooks (`secret`: the hex HMAC key); none posted when absent. */
  webhooks?: WebhookOptions;
  /** Send a CAPTURE webhook after an automatic-capture authorisation (default true). */
  autoCaptureWebhook?: boolean;
  clock?: () => Date;
  /** The commission of each settled capture: `basisPoints` of it (rounded half up) plus `fixed` minor units; default 120 + 10. */
  fees?: { basisPoints: number; fixed: number };
  /**
   * Where REPORT_AVAILABLE's download URL points: `<reportBaseUrl>/reports/download/MerchantAccount/<account>/<file>`.
   * Default `baseUrl` when given (the source's apiBaseUrl, whose origin Switchyard sends report credentials to), else
   * https://ca-test.adyen.com.
   */
  reportBaseUrl?: string;
  /** When set, report downloads must carry these credentials (basic authentication, or `X-API-Key`), else 401. */
  reportCredentials?: { username: string; password: string } | { apiKey: string };
}

/** A captured or refunded modification waiting for its settlement batch (minor units, positive). */
interface Settleable {
  type: 'Settled' | 'Refunded';
  payment: SimulatedAdyenPayment;
  modificationReference: string;
  amount: number;
  batch: number | null;
}

/** Settlement details report columns, in Adyen's order (https://docs.adyen.com/reporting/settlement-detail-report). */
const SETTLEMENT_COLUMNS = [
  'Company Account',
  'Merchant Account',
  'Psp Reference',
  'Merchant Reference',
  'Payment Method',
  'Creation Date',
  'TimeZone',
  'Type',
  'Modification Reference',
  'Gross Currency',
  'Gross Debit (GC)',
  'Gross Credit (GC)',
  'Exchange Rate',
  'Net Currency',
  'Net Debit (NC)',
  'Net Credit (NC)',
  'Commission (NC)',
  'Markup (NC)',
  'Scheme Fees (NC)',
  'Interchange (NC)',
  'Batch Number',
];

/** A payment as the simulator keeps it. Amounts in minor units. */
export interface SimulatedAdyenPayment {
  pspReference: string;
  merchantAccount: string;
  reference: string;
  amount: { value: number; currency: string };
  resultCode: 'Authorised' | 'Refused' | 'Error';
  captured: number;
  refunded: number;
  cancelled: boolean;
}

/** The Adyen simulator: msw handlers, state, call log, webhooks. */
export interface AdyenSimulator {
  /** Pass to `setupServer(...sim.handlers)` or `server.use(...sim.handlers)`. */
  handlers: HttpHandler[];
  /** The API base the handlers answer, without a trailing slash. */
  baseUrl: string;
  calls: SimulatedCall[];
  payments: Map<string, SimulatedAdyenPayment>;
  failNext(failure: InjectedFailure): void;
  webhooks: WebhookQueue;
  /** Settlement details reports written by {@link settle}, by file name, as CSV text. */
  reports: Map<string, string>;
  /**
   * Closes a settlement batch: writes the Settlement details report of every capture and refund not settled yet
   * (`Settled` with its commission, `Refunded`, then the `MerchantPayout` of their net, per currency), and posts
   * REPORT_AVAILABLE with its download URL. Returns the file name (`settlement_detail_report_batch_<n>.csv`).
   */
  settle(): string;
}

// https://docs.adyen.com/development-resources/testing/result-codes#values-for-testing-refusal-reasons
const REFUSALS: Record<string, { resultCode: 'Refused' | 'Error'; refusalReason: string; refusalReasonCode: string }> = {
  DECLINED: { resultCode: 'Refused', refusalReason: 'Refused', refusalReasonCode: '2' },
  REFERRAL: { resultCode: 'Refused', refusalReason: 'Referral', refusalReasonCode: '3' },
  ERROR: { resultCode: 'Error', refusalReason: 'Acquirer Error', refusalReasonCode: '4' },
  BLOCK_CARD: { resultCode: 'Refused', refusalReason: 'Blocked Card', refusalReasonCode: '5' },
  CARD_EXPIRED: { resultCode: 'Refused', refusalReason: 'Expired Card', refusalReasonCode: '6' },
};
const BY_CODE = Object.fromEntries(Object.values(REFUSALS).map((r) => [r.refusalReasonCode, r]));

/**
 * An Adyen Checkout simulator. Use `handlers` with msw's `setupServer`; `calls` counts what
 * reached "Adyen".
 * Throws when the msw it imports is another copy, of another version, than the project's
 * (switchyard linked rather than installed: see msw-copies.ts), since msw would ignore its handlers.
 *
 * @example
 * const sim = adyenSimulator({ webhooks: { url: `http://localhost${source.inboundUrl}`, secret: hmacKeyHex, send: (r) => app.request(r) } });
 */
export function adyenSimulator(options: AdyenSimulatorOptions = {}): AdyenSimulator {
  assertSingleMsw();
  const base = (options.baseUrl ?? 'https://checkout-test.adyen.com/v71').replace(/\/+$/, '');
  const clock = options.clock ?? (() => new Date());
  const payments = new Map<string, SimulatedAdyenPayment>();
  const calls: SimulatedCall[] = [];
  const cache = new IdempotencyCache();
  const failures = new FailureInjector();
  const webhooks = new WebhookQueue(options.webhooks);
  const settleable: Settleable[] = [];
  const reports = new Map<string, string>();
  let batches = 0;
  const fees = options.fees ?? { basisPoints: 120, fixed: 10 };
  const reportBase = (options.reportBaseUrl ?? (options.baseUrl ? base : 'https://ca-test.adyen.com')).replace(/\/+$/, '');

  const notify = (item: Record<string, unknown>): void => {
    webhooks.push(async () => {
      const hooks = options.webhooks!;
      const notification = {
        live: 'false',
        notificationItems: [{ NotificationRequestItem: { additionalData: {}, eventDate: clock().toISOString(), reason: '', ...item } }],
      };
      const body = await signAdyen(notification, hooks.secret);
      return new Request(hooks.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    });
  };

  const problem = (status: number, errorCode: string, message: string) =>
    HttpResponse.json({ status, errorCode, message, errorType: status === 401 ? 'security' : 'validation' }, { status });

  const handle =
    (run: (body: Record<string, unknown>, params: Record<string, string>) => Response) =>
    async ({ request, params }: { request: Request; params: Record<string, string | readonly string[] | undefined> }) => {
      if (options.latencyMs) await delay(options.latencyMs);
      const url = new URL(request.url);
      const key = request.headers.get('idempotency-key');
      const log = (status: number, replayed: boolean) =>
        calls.push({ method: request.method, path: url.pathname, idempotencyKey: key, replayed, status });
      if (options.apiKey && request.headers.get('x-api-key') !== options.apiKey) {
        log(401, false);
        return problem(401, '000', 'HTTP Status Response - Unauthorized');
      }
      const text = await request.text();
      const fingerprint = `${url.pathname} ${text}`;
      if (key) {
        const hit = cache.get(key);
        if (hit && hit.fingerprint === fingerprint) {
          log(hit.status, true);
          return HttpResponse.json(hit.body as never, { status: hit.status, headers: { 'idempotent-replayed': 'true' } });
        }
        if (hit) {
          log(422, false);
          return problem(422, '704', 'request already processed or in progress');
        }
      }
      const failure = failures.take();
      if (failure?.mode === 'server_error') {
        log(500, false);
        return problem(500, '905', 'Payment details are not supported');
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        log(400, false);
        return problem(400, '702', 'Structure of the request is not valid');
      }
      const p = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
      const res = failure?.mode === 'timeout' && failure.afterEffect === false ? undefined : run(body, p);
      const status = res?.status ?? 0;
      if (key && res && status < 500) cache.set(key, fingerprint, status, await res.clone().json());
      log(status, false);
      if (failure?.mode === 'timeout') {
        await delay(failure.delayMs ?? 5000);
        return res ?? problem(500, '905', 'timeout');
      }
      return res!;
    };

  const modification = (
    eventCode: 'CAPTURE' | 'CANCELLATION' | 'REFUND',
    apply: (p: SimulatedAdyenPayment, value: number) => string | undefined,
  ) =>
    handle((body, params) => {
      const payment = payments.get(params.ref!);
      if (payment?.resultCode !== 'Authorised') return problem(422, '167', 'Original pspReference required for this operation');
      const amount = (body.amount ?? payment.amount) as { value: number; currency: string };
      const refusal = apply(payment, amount.value);
      if (refusal) return problem(422, '167', refusal);
      const pspReference = pspRef();
      if (eventCode !== 'CANCELLATION') {
        settleable.push({
          type: eventCode === 'CAPTURE' ? 'Settled' : 'Refunded',
          payment,
          modificationReference: pspReference,
          amount: amount.value,
          batch: null,
        });
      }
      notify({
        eventCode,
        success: 'true',
        pspReference,
        originalReference: payment.pspReference,
        merchantAccountCode: payment.merchantAccount,
        merchantReference: payment.reference,
        amount: eventCode === 'CANCELLATION' ? payment.amount : amount,
      });
      return HttpResponse.json(
        {
          merchantAccount: body.merchantAccount,
          paymentPspReference: payment.pspReference,
          pspReference,
          ...(body.reference ? { reference: body.reference } : {}),
          status: 'received',
          ...(eventCode === 'CANCELLATION' ? {} : { amount }),
        },
        { status: 201 },
      );
    });

  const handlers: HttpHandler[] = [
    http.post(
      `${base}/payments`,
      handle((body) => {
        const amount = body.amount as { value?: unknown; currency?: unknown } | undefined;
        if (
          !amount ||
          !Number.isInteger(amount.value) ||
          typeof amount.currency !== 'string' ||
          typeof body.merchantAccount !== 'string' ||
          typeof body.reference !== 'string'
        ) {
          return problem(422, '100', 'Required field missing: amount, merchantAccount or reference');
        }
        const pm = (body.paymentMethod ?? {}) as { holderName?: string };
        const additional = (body.additionalData ?? {}) as Record<string, string>;
        const refusal = (pm.holderName && REFUSALS[pm.holderName]) || BY_CODE[additional.RequestedTestAcquirerResponseCode ?? ''];
        const payment: SimulatedAdyenPayment = {
          pspReference: pspRef(),
          merchantAccount: body.merchantAccount,
          reference: body.reference,
          amount: { value: amount.value as number, currency: amount.currency },
          resultCode: refusal ? refusal.resultCode : 'Authorised',
          captured: 0,
          refunded: 0,
          cancelled: false,
        };
        payments.set(payment.pspReference, payment);
        const common = {
          pspReference: payment.pspReference,
          merchantAccountCode: payment.merchantAccount,
          merchantReference: payment.reference,
          amount: payment.amount,
        };
        // Adyen echoes the request's metadata in the AUTHORISATION webhook as additionalData "metadata.<key>".
        const metadata = Object.fromEntries(
          Object.entries((body.metadata ?? {}) as Record<string, string>).map(([k, v]) => [`metadata.${k}`, String(v)]),
        );
        notify({
          eventCode: 'AUTHORISATION',
          success: refusal ? 'false' : 'true',
          ...common,
          additionalData: metadata,
          ...(refusal ? { reason: refusal.refusalReason } : {}),
        });
        if (!refusal && additional.manualCapture !== 'true' && options.autoCaptureWebhook !== false) {
          payment.captured = payment.amount.value;
          const captureRef = pspRef();
          settleable.push({ type: 'Settled', payment, modificationReference: captureRef, amount: payment.amount.value, batch: null });
          notify({ eventCode: 'CAPTURE', success: 'true', ...common, pspReference: captureRef, originalReference: payment.pspReference });
        }
        return HttpResponse.json({
          pspReference: payment.pspReference,
          resultCode: payment.resultCode,
          amount: payment.amount,
          merchantReference: payment.reference,
          ...(refusal ? { refusalReason: refusal.refusalReason, refusalReasonCode: refusal.refusalReasonCode } : {}),
        });
      }),
    ),
    http.post(
      `${base}/payments/:ref/captures`,
      modification('CAPTURE', (p, value) => {
        if (p.cancelled || p.captured + value > p.amount.value) return 'Amount exceeds the authorised amount';
        p.captured += value;
        return undefined;
      }),
    ),
    http.post(
      `${base}/payments/:ref/cancels`,
      modification('CANCELLATION', (p) => {
        if (p.captured > 0) return 'Payment already captured';
        p.cancelled = true;
        return undefined;
      }),
    ),
    http.post(
      `${base}/payments/:ref/refunds`,
      modification('REFUND', (p, value) => {
        if (p.refunded + value > p.captured) return 'Amount exceeds the captured amount';
        p.refunded += value;
        return undefined;
      }),
    ),
  ];

  const download = async ({ request, params }: { request: Request; params: Record<string, string | readonly string[] | undefined> }) => {
    const url = new URL(request.url);
    const creds = options.reportCredentials;
    const authorized =
      !creds ||
      ('apiKey' in creds
        ? request.headers.get('x-api-key') === creds.apiKey
        : request.headers.get('authorization') === `Basic ${btoa(`${creds.username}:${creds.password}`)}`);
    const report = reports.get(String(params.file));
    const status = !authorized ? 401 : report === undefined ? 404 : 200;
    calls.push({ method: 'GET', path: url.pathname, idempotencyKey: null, replayed: false, status });
    if (status !== 200) return new HttpResponse(null, { status });
    return new HttpResponse(report, { headers: { 'content-type': 'text/csv; charset=utf-8' } });
  };
  const downloadPath = '/reports/download/MerchantAccount/:account/:file';
  handlers.push(http.get(`${base}${downloadPath}`, download));
  if (reportBase !== base) handlers.push(http.get(`${reportBase}${downloadPath}`, download));

  /** Minor units as the report writes them: major units with the currency's exponent, empty for zero. */
  const major = (minor: number, currency: string): string => (minor === 0 ? '' : formatMinor(minor, currency));
  const field = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

  const settle = (): string => {
    const batch = ++batches;
    const at = clock().toISOString().slice(0, 19).replace('T', ' ');
    const rows: string[][] = [];
    const nets = new Map<string, { account: string; net: number }>();
    for (const m of settleable) {
      if (m.batch !== null) continue;
      m.batch = batch;
      const c = m.payment.amount.currency;
      const fee = m.type === 'Settled' ? Math.floor((m.amount * fees.basisPoints + 5_000) / 10_000) + fees.fixed : 0;
      const net = m.type === 'Settled' ? m.amount - fee : -m.amount;
      const n = nets.get(c) ?? { account: m.payment.merchantAccount, net: 0 };
      n.net += net;
      nets.set(c, n);
      rows.push([
        'SimulatedCompany',
        m.payment.merchantAccount,
        m.payment.pspReference,
        m.payment.reference,
        'visa',
        at,
        'UTC',
        m.type,
        m.modificationReference,
        c,
        m.type === 'Refunded' ? major(m.amount, c) : '',
        m.type === 'Settled' ? major(m.amount, c) : '',
        '1',
        c,
        net < 0 ? major(-net, c) : '',
        net > 0 ? major(net, c) : '',
        major(fee, c),
        '',
        '',
        '',
        String(batch),
      ]);
    }
    for (const [c, n] of nets) {
      rows.push([
        'SimulatedCompany',
        n.account,
        '',
        '',
        '',
        at,
        'UTC',
        'MerchantPayout',
        `payout-${batch}`,
        '',
        '',
        '',
        '',
        c,
        n.net > 0 ? major(n.net, c) : '',
        n.net < 0 ? major(-n.net, c) : '',
        '',
        '',
        '',
        '',
        String(batch),
      ]);
    }
    const file = `settlement_detail_report_batch_${batch}.csv`;
    reports.set(file, `${[SETTLEMENT_COLUMNS, ...rows].map((r) => r.map(field).join(',')).join('\r\n')}\r\n`);
    const account = settleable.find((m) => m.batch === batch)?.payment.merchantAccount ?? 'SimulatedMerchant';
    const url = `${reportBase}/reports/download/MerchantAccount/${encodeURIComponent(account)}/${file}`;
    const item = buildAdyenReportAvailable(file, url, { merchantAccount: account, at: clock() }).notificationItems[0]!
      .NotificationRequestItem;
    notify(item);
    return file;
  };

  return { handlers, baseUrl: base, calls, payments, webhooks, failNext: (f) => failures.add(f), reports, settle };
}
