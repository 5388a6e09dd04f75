// The `data` of the review, reconciliation and ledger events, as zod schemas: the code that builds each payload is
// typed by them (review-store.ts `reviewView`, src/reconciliation's views, the ledger check's view), and the event
// catalogue (src/app/event-catalogue.ts: GET /v1/event-types, the OpenAPI `webhooks`) publishes them as JSON Schema.
// Here, in core, because both the edge rooms that build them and the catalogue in src/app may import core.
import { z } from 'zod';

const iso = (what: string) => z.iso.datetime().describe(`${what}, ISO 8601.`);
/** An amount in minor units (cents; yen; fils), signed where the text says so. */
const minor = (what: string) => z.number().int().describe(`${what}, in minor units.`);

/** `review.opened` / `review.closed`: a review as `GET /v1/risk/reviews/{id}` answers it. */
export const ReviewData = z.object({
  id: z.string().describe('The review (`rev_…`).'),
  paymentId: z.string().nullable().describe('Its payment; null while the payment of an API create operation is not stored yet.'),
  operationId: z.string().nullable().describe('The create operation, for a review opened on POST /v1/payments.'),
  status: z.enum(['open', 'approved', 'rejected']),
  reason: z.string().nullable().describe("The reviewer's reason, once closed."),
  compensation: z
    .enum(['refund', 'void', 'none', 'refund_required'])
    .nullable()
    .describe('What a rejection did: refund or void through the PSP, nothing to undo, or refund_required (no PSP apiKey).'),
  compensationOperationId: z.string().nullable().describe('The refund or void operation a rejection made, if any.'),
  compensationFailedAt: iso('When the PSP refused the refund or void past its last retry (a person must act)').nullable(),
  openedBy: z
    .object({ id: z.string(), name: z.string(), version: z.number().int(), action: z.enum(['allow', 'review', 'block']) })
    .describe('The risk rule (and its version) that opened it.'),
  openedAt: iso('When it was opened'),
  closedAt: iso('When it was decided').nullable(),
});

/** Signed amounts of a report line, per currency in a run's totals. */
const ReconciliationAmounts = z.object({
  currency: z.string(),
  gross: minor('Gross, signed'),
  fee: minor('Fee, signed'),
  net: minor('Net, signed'),
});

/** The results a reconciliation item may have, in the order a run's `counts` lists them. */
export const ReconciliationItemResult = z.enum([
  'matched',
  'amountMismatch',
  'missingInLedger',
  'missingInReport',
  'duplicate',
  'ignored',
  'invalid',
]);

/** One item of a run as `GET /v1/reconciliation/settlements/{id}/items` lists it: a report line, or a `missingInReport` operation. */
export const ReconciliationItemData = z.object({
  position: z.number().int().describe('The item within the run.'),
  lineNumber: z.number().int().nullable().describe('Line in the file (the header is line 1); null for `missingInReport`.'),
  result: ReconciliationItemResult,
  lineId: z.string().nullable().describe("The PSP's id of the line."),
  category: z.string().nullable().describe('charge, refund, fee, …'),
  pspType: z.string().nullable().describe("The line's type as the PSP writes it."),
  pspReference: z.string().nullable(),
  paymentReference: z.string().nullable(),
  paymentId: z.string().nullable().describe('The payment it was matched to, if any (`pay_…`).'),
  reported: z
    .object({
      currency: z.string(),
      gross: minor('Gross, signed'),
      fee: minor('Fee, signed').nullable(),
      net: minor('Net, signed').nullable(),
    })
    .nullable()
    .describe('What the report says; null when the line could not be read or is not in it.'),
  expected: z
    .object({ currency: z.string().nullable(), gross: minor('Gross, signed') })
    .nullable()
    .describe('What the ledger says, where it differs.'),
  detail: z.string().nullable().describe('Why, in a sentence.'),
});

/** `reconciliation.mismatch` for a payment left `pending` past its source's settling time (the stuck-payments check). */
export const StuckPaymentMismatchData = z.object({
  result: z.literal('stuckPayment'),
  sourceId: z.string().describe('The source of the payment (`src_…`).'),
  paymentId: z.string().describe('The payment (`pay_…`).'),
  pspReference: z.string().describe("The PSP's id of the payment."),
  expected: z.object({ currency: z.string(), gross: minor('The amount pending') }),
  pendingSince: iso('When the payment became pending'),
  detail: z.string().describe('Whether the PSP was asked, and what it said.'),
});

/**
 * `reconciliation.mismatch`: one report line (or ledger operation) that did not match, as the run's items list it, with
 * its run and source; or a stuck payment (`result: stuckPayment`).
 */
export const ReconciliationMismatchData = z.union([
  ReconciliationItemData.extend({
    reconciliationId: z.string().describe('The run (`rcn_…`).'),
    sourceId: z.string().describe('The source whose report it is (`src_…`).'),
  }),
  StuckPaymentMismatchData,
]);

/** `reconciliation.completed`: the run as `GET /v1/reconciliation/settlements/{id}` answers it. */
export const ReconciliationRunData = z.object({
  id: z.string().describe('The run (`rcn_…`).'),
  sourceId: z.string(),
  status: z.enum(['processing', 'completed', 'failed']),
  format: z.enum(['stripe', 'adyen']),
  payoutId: z.string().nullable().optional().describe('Stripe: the automatic payout all lines belong to, if one.'),
  batchNumber: z.string().nullable().optional().describe('Adyen: the settlement batch all lines belong to, if one.'),
  periodStart: iso('The first line').nullable(),
  periodEnd: iso('The last line').nullable(),
  linesDone: z.number().int().describe('Report lines matched so far (progress while `processing`).'),
  counts: z.object({
    lines: z.number().int().describe('Data lines in the report; 0 while `processing` until the job has read it.'),
    matched: z.number().int(),
    amountMismatch: z.number().int(),
    missingInLedger: z.number().int(),
    missingInReport: z.number().int(),
    duplicate: z.number().int(),
    ignored: z.number().int(),
    invalid: z.number().int().describe('Lines that could not be read (each item names its line number).'),
  }),
  totals: z.array(ReconciliationAmounts).describe('Per currency, over every readable line; signed minor units.'),
  error: z.string().nullable(),
  createdAt: iso('When the report was uploaded'),
  completedAt: iso('When matching finished').nullable(),
});

/** One thing a ledger check found wrong. */
const LedgerProblem = z.discriminatedUnion('problem', [
  z.object({
    problem: z.literal('balance_drift'),
    account: z.string(),
    currency: z.string(),
    kept: minor('The kept balance'),
    fromEntries: minor('The balance its entries sum to'),
  }),
  z.object({ problem: z.literal('currency_unbalanced'), currency: z.string(), sum: minor('The sum of every account') }),
  z.object({ problem: z.literal('transaction_unbalanced'), transactionId: z.string() }),
]);

/** `ledger.imbalance`: a continuous ledger check that failed, as `GET /v1/ledger/checks` lists it. */
export const LedgerImbalanceData = z.object({
  id: z.string().describe('The check (`lck_…`).'),
  kind: z.enum(['incremental', 'full']),
  status: z.enum(['passed', 'failed']),
  entries: z.number().int().describe('Entries summed: those since the last checkpoint, or all (full).'),
  accounts: z.number().int(),
  problems: z.array(LedgerProblem),
  startedAt: iso('When the check started'),
  finishedAt: iso('When it finished'),
});
