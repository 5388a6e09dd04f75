// (node) The `pull_settlement_report` job: fetch a settlement report the PSP said is ready and load it as a run
// (README "Reconcile", pulled reports), through the PSP fetch the connectors use (Deps.pspFetch: SSRF-guarded).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { Deps } from '../core/deps.js';
import { AppError } from '../core/errors.js';
import type { JobPayload } from '../core/jobs/catalog.js';
import { formatMinor } from '../core/money.js';
import { newId } from '../core/ids.js';
import { MAX_REPORT_BYTES, spoolReport, type LoadOutcome } from './load-report.js';
import { failRun, getPullSource, insertRun, type PullSourceRow } from './reconciliation-store.js';

/** Stripe's API base when the source has no `apiBaseUrl`. */
const STRIPE_API_BASE = 'https://api.stripe.com';
/** Balance transactions per page (Stripe's maximum). */
const STRIPE_PAGE = 100;
/** One PSP request's timeout, ms; a report download may be large, so it bounds the wait for headers and each page. */
const PULL_TIMEOUT_MS = 60_000;

/** How a pull ended: a run loaded (or the earlier run of the same bytes), or why nothing was pulled. */
export type PullOutcome =
  | { kind: 'loaded'; outcome: LoadOutcome }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; runId: string };

/** A PSP answer that asking again will not change (401, 404, a URL not allowed): the pull fails for good. */
class PullRefused extends Error {}

/** The `ERR_SSRF_BLOCKED` message in an error's cause chain (the guarded dispatcher's refusal), or undefined. */
function ssrfBlock(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === 'ERR_SSRF_BLOCKED') return e.message;
    if (e instanceof AggregateError) {
      const inner = e.errors.map(ssrfBlock).find((m) => m !== undefined);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * GET `url` through `deps.pspFetch` (the global fetch where absent, as in tests under msw), no redirects, with a
 * timeout. Returns the response when 2xx. Throws {@link PullRefused} for a URL the rules refuse and for a 4xx other
 * than 429; an Error (graphile-worker retries) for a timeout, a network error, 429 or 5xx.
 */
async function get(deps: Pick<Deps, 'pspFetch' | 'config'>, url: string, headers: Record<string, string>, what: string): Promise<Response> {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase();
  const allowHttp = deps.config.SWITCHYARD_ALLOW_PRIVATE_URLS;
  if (scheme !== 'https:' && !(allowHttp && scheme === 'http:')) {
    throw new PullRefused(`${what}: the URL must be https (http only with SWITCHYARD_ALLOW_PRIVATE_URLS=true)`);
  }
  let res: Response;
  try {
    res = await (deps.pspFetch ?? fetch)(url, { method: 'GET', headers, redirect: 'manual', signal: AbortSignal.timeout(PULL_TIMEOUT_MS) });
  } catch (error) {
    const blocked = ssrfBlock(error);
    if (blocked !== undefined) throw new PullRefused(`${what}: the URL is not allowed (${blocked})`);
    throw new Error(
      `${what}: no answer (${(error as Error).name === 'TimeoutError' ? `timeout after ${PULL_TIMEOUT_MS} ms` : 'network error'})`,
    );
  }
  if (res.status >= 200 && res.status < 300) return res;
  // the error body is not read: released without waiting (a cancel may wait on the peer)
  res.body?.cancel().catch(() => undefined);
  if (res.status >= 500 || res.status === 429) throw new Error(`${what}: the PSP answered ${res.status}`);
  throw new PullRefused(
    `${what}: the PSP answered ${res.status}${res.status === 401 || res.status === 403 ? ' (check the source’s credentials)' : ''}`,
  );
}

// https://docs.stripe.com/api/balance_transactions/object, with `source` expanded (a Charge, Refund, Dispute, Payout…)
const expandedSource = z.object({
  id: z.string(),
  object: z.string(),
  charge: z.union([z.string(), z.object({ id: z.string() })]).nullish(),
  payment_intent: z.union([z.string(), z.object({ id: z.string() })]).nullish(),
});
const balanceTransaction = z.object({
  id: z.string().min(1),
  amount: z.number().int(),
  currency: z.string().min(3).max(3),
  fee: z.number().int(),
  net: z.number().int(),
  reporting_category: z.string(),
  created: z.number().int(),
  available_on: z.number().int().nullish(),
  source: z.union([z.string(), expandedSource]).nullish(),
});
const balanceTransactionPage = z.object({ data: z.array(balanceTransaction), has_more: z.boolean() });

/** The columns of the itemized payout reconciliation report that {@link stripeLines} writes (https://docs.stripe.com/reports/report-types). */
const STRIPE_COLUMNS = [
  'balance_transaction_id',
  'created_utc',
  'available_on_utc',
  'currency',
  'gross',
  'fee',
  'net',
  'reporting_category',
  'source_id',
  'charge_id',
  'payment_intent_id',
  'automatic_payout_id',
];

const utc = (seconds: number | null | undefined): string =>
  seconds === null || seconds === undefined ? '' : new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');

const idOf = (v: string | { id: string } | null | undefined): string =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : v.id;

/** A CSV field, quoted when it must be (RFC 4180). */
const field = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * The payout's balance transactions, every page (`GET /v1/balance_transactions?payout=…&expand[]=data.source`), as the
 * CSV of Stripe's itemized payout reconciliation report: one page in memory at a time.
 */
async function* stripeLines(
  deps: Pick<Deps, 'pspFetch' | 'config'>,
  source: PullSourceRow,
  apiKey: string,
  payoutId: string,
): AsyncGenerator<string> {
  yield `${STRIPE_COLUMNS.join(',')}\r\n`;
  const base = (source.apiBaseUrl ?? STRIPE_API_BASE).replace(/\/+$/, '');
  let after: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ payout: payoutId, limit: String(STRIPE_PAGE) });
    query.append('expand[]', 'data.source');
    if (after) query.set('starting_after', after);
    const res = await get(
      deps,
      `${base}/v1/balance_transactions?${query}`,
      { authorization: `Bearer ${apiKey}` },
      `Stripe balance transactions of ${payoutId}`,
    );
    const page = balanceTransactionPage.safeParse(await res.json());
    if (!page.success) throw new PullRefused(`Stripe balance transactions of ${payoutId}: not a list of balance transactions`);
    for (const t of page.data.data) {
      const src = typeof t.source === 'object' && t.source !== null ? t.source : undefined;
      const chargeId = src?.object === 'charge' ? src.id : idOf(src?.charge);
      yield `${[
        t.id,
        utc(t.created),
        utc(t.available_on),
        t.currency,
        formatMinor(t.amount, t.currency),
        formatMinor(t.fee, t.currency),
        formatMinor(t.net, t.currency),
        t.reporting_category,
        src ? src.id : idOf(t.source as string | null | undefined),
        chargeId,
        idOf(src?.payment_intent),
        payoutId,
      ]
        .map(field)
        .join(',')}\r\n`;
    }
    if (!page.data.has_more || page.data.data.length === 0) return;
    after = page.data.data.at(-1)!.id;
  }
}

/**
 * Writes the whole report (text chunks or the download's bytes) to `file` before anything is stored, so no database
 * transaction waits on the PSP: disk holds it, not memory. Past `maxBytes` it stops and throws 413
 * `payload_too_large` (spoolReport's refusal of an upload that size).
 */
async function fetchToFile(report: AsyncIterable<string | Uint8Array>, file: string, maxBytes: number): Promise<void> {
  let bytes = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) done(new AppError('payload_too_large', 413, `The report exceeds ${maxBytes} bytes.`));
      else done(null, chunk);
    },
  });
  await pipeline(Readable.from(report, { objectMode: false }), cap, createWriteStream(file));
}

/** The temporary directory a pull fetches its report into; removed once the report is stored. */
async function pullDirectory(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'switchyard-pull-'));
}

/** Adyen report user credentials as stored (sealed JSON): basic authentication, or the report user's API key. */
const reportCredentials = z.union([
  z.object({ username: z.string().min(1), password: z.string().min(1) }),
  z.object({ apiKey: z.string().min(1) }),
]);

/**
 * Whether report credentials may be sent to `url`: an https host of Adyen's (`*.adyen.com`), or the origin of the
 * source's `apiBaseUrl` (a sandbox or the simulator). Never elsewhere, whatever a notification says.
 */
function adyenReportHostAllowed(url: string, apiBaseUrl: string | null): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:' && (u.hostname === 'adyen.com' || u.hostname.endsWith('.adyen.com'))) return true;
  return apiBaseUrl !== null && new URL(apiBaseUrl).origin === u.origin;
}

/** Opens the Adyen report download (streamed to a file by {@link fetchToFile}, then stored). */
async function adyenReport(
  deps: Pick<Deps, 'pspFetch' | 'config' | 'secretBox'>,
  source: PullSourceRow,
  url: string,
): Promise<ReadableStream<Uint8Array> | string> {
  if (!source.reportCredentialsCiphertext) return 'the source has no reportCredentials';
  if (!adyenReportHostAllowed(url, source.apiBaseUrl)) {
    throw new PullRefused(`the report URL ${new URL(url).origin} is neither an adyen.com host nor the source's apiBaseUrl`);
  }
  const creds = reportCredentials.parse(JSON.parse(await deps.secretBox.decrypt(source.reportCredentialsCiphertext)));
  const headers: Record<string, string> =
    'apiKey' in creds
      ? { 'x-api-key': creds.apiKey }
      : { authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` };
  const res = await get(deps, url, headers, 'Adyen report download');
  return res.body ?? 'the report download had no body';
}

/**
 * Pulls one report into the spool (load-report.ts `spoolReport`, which queues the job that reads and matches it). The
 * whole report is fetched into a temporary file first and stored after, so no database transaction is open while the
 * PSP is asked for pages or the download runs: Stripe, the payout's balance
 * transactions written as the itemized payout reconciliation report (a source with an `apiKey` only); Adyen, the
 * settlement details CSV downloaded with the source's `reportCredentials` (from an adyen.com host or the source's
 * `apiBaseUrl` only). Pulling the same report again loads the same bytes: the earlier run answers, nothing posts twice.
 * A source without the credentials is `skipped`. A refusal that asking again will not change (4xx, a URL not allowed,
 * not a report) is recorded as a `failed` run naming it, once per job. Throws for what a retry may mend (timeouts,
 * network errors, 429, 5xx), so graphile-worker retries.
 */
export async function pullSettlementReport(
  deps: Pick<Deps, 'sql' | 'clock' | 'config' | 'secretBox' | 'pspFetch'>,
  job: JobPayload<'pull_settlement_report'>,
): Promise<PullOutcome> {
  const source = await getPullSource(deps.sql, job.merchantId, job.sourceId);
  if (!source) return { kind: 'skipped', reason: `source ${job.sourceId} is gone` };
  const name = job.report.kind === 'stripe_payout' ? `payout ${job.report.payoutId}` : `report ${job.report.fileName}`;
  let dir: string | undefined;
  try {
    let report: AsyncIterable<string | Uint8Array>;
    if (job.report.kind === 'stripe_payout') {
      if (source.provider !== 'stripe') return { kind: 'skipped', reason: `source ${source.id} is not a Stripe source` };
      if (!source.apiKeyCiphertext) return { kind: 'skipped', reason: 'the source has no apiKey' };
      const apiKey = await deps.secretBox.decrypt(source.apiKeyCiphertext);
      report = stripeLines(deps, source, apiKey, job.report.payoutId);
    } else {
      if (source.provider !== 'adyen') return { kind: 'skipped', reason: `source ${source.id} is not an Adyen source` };
      const opened = await adyenReport(deps, source, job.report.url);
      if (typeof opened === 'string') return { kind: 'skipped', reason: opened };
      report = opened as unknown as AsyncIterable<Uint8Array>;
    }
    // fetch every page (or the whole download) first, then store: the spool transaction never waits on the network
    dir = await pullDirectory();
    const file = path.join(dir, 'report.csv');
    await fetchToFile(report, file, MAX_REPORT_BYTES);
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    const outcome = await spoolReport(deps, { merchantId: source.merchantId, sourceId: source.id, provider: source.provider, body });
    return { kind: 'loaded', outcome };
  } catch (error) {
    const refused = error instanceof PullRefused ? error.message : refusedLoad(error);
    if (refused === undefined) throw error;
    const runId = newId('rcn', deps.clock());
    await deps.sql.begin(async (tx) => {
      await insertRun(tx, {
        id: runId,
        merchantId: source.merchantId,
        sourceId: source.id,
        format: source.provider === 'adyen' ? 'adyen' : 'stripe',
        at: deps.clock(),
      });
      await failRun(tx, runId, `Pulling ${name} failed: ${refused}`, deps.clock());
    });
    return { kind: 'failed', runId };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** spoolReport's own refusals (the report is not one it reads: 4xx AppErrors) as a reason; undefined for anything else. */
function refusedLoad(error: unknown): string | undefined {
  const e = error as { status?: unknown; code?: unknown; message?: unknown };
  return typeof e.status === 'number' && e.status >= 400 && e.status < 500 && typeof e.code === 'string'
    ? `${e.code}: ${String(e.message)}`
    : undefined;
}
