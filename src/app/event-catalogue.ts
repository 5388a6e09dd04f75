// The catalogue of merchant-facing event types: each type's description, the zod schema of its `data` (the one the
// code builds that data as) and an example. GET /v1/event-types serves it as JSON Schema; the OpenAPI document lists
// each type under `webhooks`.
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../core/deps.js';
import { LedgerImbalanceData, ReconciliationMismatchData, ReconciliationRunData, ReviewData } from '../core/events/event-data.js';
import { EndpointDisabledData, WebhookTestData } from '../outbound/event-data.js';
import { PaymentView } from '../payments-api/routes/payments.js';

/** One event type Switchyard emits. */
export interface EventTypeEntry {
  type: string;
  description: string;
  /** The schema of the body's `data`. */
  data: z.ZodType;
  /** A `data` that the schema accepts. */
  example: unknown;
}

const paymentExample: z.infer<typeof PaymentView> = {
  id: 'pay_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
  sourceId: 'src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d',
  pspReference: 'pi_3QxExample',
  status: 'captured',
  amount: 12500,
  currency: 'EUR',
  capturedAmount: 12500,
  refundedAmount: 0,
  chargedBackAmount: 0,
  overRefundedAmount: 0,
  flags: [],
  merchantReference: 'order-1042',
  operations: [
    {
      kind: 'capture',
      pspReference: 'ch_3QxExample',
      amount: 12500,
      outcome: 'succeeded',
      flagReason: null,
      history: [{ outcome: 'succeeded', amount: 12500, cause: 'iev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5e', at: '2026-12-01T10:15:00.000Z' }],
    },
  ],
  createdAt: '2026-12-01T10:14:58.000Z',
  updatedAt: '2026-12-01T10:15:00.000Z',
};

/** Payment event types and what moves a payment there (docs/architecture.md "Payment states"). */
const PAYMENT_EVENTS: readonly [string, string][] = [
  ['payment.authorized', 'The payment was authorized.'],
  ['payment.captured', 'The payment was captured (in full or in part).'],
  ['payment.failed', 'The payment failed.'],
  ['payment.voided', 'The authorization was voided before capture.'],
  ['payment.partially_refunded', 'Part of the captured amount was refunded.'],
  ['payment.refunded', 'The captured amount was refunded in full.'],
  ['payment.capture_failed', 'A capture the PSP had accepted failed.'],
  ['payment.refund_failed', 'A refund failed; the money stays with the merchant.'],
  ['payment.disputed', 'The customer disputed the payment (a chargeback was opened).'],
  ['payment.dispute_won', 'A dispute was decided for the merchant.'],
  ['payment.charged_back', 'A dispute was lost: the disputed amount is charged back.'],
];

const reviewExample: z.infer<typeof ReviewData> = {
  id: 'rev_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
  paymentId: 'pay_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
  operationId: null,
  status: 'open',
  reason: null,
  compensation: null,
  compensationOperationId: null,
  compensationFailedAt: null,
  openedBy: { id: 'rul_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d', name: 'Large first payment', version: 2, action: 'review' },
  openedAt: '2026-12-01T10:15:00.000Z',
  closedAt: null,
};

/** Review, reconciliation and ledger events: their `data` schemas are in src/core/events/event-data.ts. */
const OTHER_EVENTS: readonly EventTypeEntry[] = [
  {
    type: 'review.opened',
    description:
      'A risk rule sent a payment to review (or blocked one the PSP had already taken). `data` is the review as GET /v1/risk/reviews/{id} returns it.',
    data: ReviewData,
    example: reviewExample,
  },
  {
    type: 'review.closed',
    description:
      'A review was approved or rejected; a rejection refunds or voids the payment (`compensation`). `data` is the review as GET /v1/risk/reviews/{id} returns it.',
    data: ReviewData,
    example: {
      ...reviewExample,
      status: 'rejected',
      reason: 'card reported stolen',
      compensation: 'refund',
      compensationOperationId: 'op_019ab2c3d4e57f6a8b9c0d1e2f3a4b5e',
      closedAt: '2026-12-01T11:02:00.000Z',
    } satisfies z.infer<typeof ReviewData>,
  },
  {
    type: 'reconciliation.mismatch',
    description:
      'A settlement report line did not match the ledger (amount mismatch, missing in the ledger, a duplicate, an unreadable line), or a settled operation is missing from the reports. `data` is the item, amounts in signed minor units.',
    data: ReconciliationMismatchData,
    example: {
      reconciliationId: 'rcn_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
      sourceId: 'src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d',
      position: 7,
      lineNumber: 8,
      result: 'amountMismatch',
      lineId: 'txn_1QxExample',
      category: 'charge',
      pspType: 'charge',
      pspReference: 'ch_3QxExample',
      paymentReference: 'pi_3QxExample',
      paymentId: 'pay_019ab2c3d4e57f6a8b9c0d1e2f3a4b5e',
      reported: { currency: 'EUR', gross: 12000, fee: -210, net: 11790 },
      expected: { currency: 'EUR', gross: 12500 },
      detail: 'The report settles 12000, the ledger captured 12500.',
    } satisfies z.infer<typeof ReconciliationMismatchData>,
  },
  {
    type: 'reconciliation.completed',
    description:
      'A settlement report was matched to the end. `data` is the run as GET /v1/reconciliation/settlements/{id} returns it, with counts per result.',
    data: ReconciliationRunData,
    example: {
      id: 'rcn_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
      sourceId: 'src_019ab2c3d4e57f6a8b9c0d1e2f3a4b5d',
      status: 'completed',
      format: 'stripe',
      payoutId: 'po_1QxExample',
      periodStart: '2026-11-30T00:03:00.000Z',
      periodEnd: '2026-11-30T23:58:00.000Z',
      linesDone: 120,
      counts: { lines: 120, matched: 118, amountMismatch: 1, missingInLedger: 0, missingInReport: 0, duplicate: 0, ignored: 1, invalid: 0 },
      totals: [{ currency: 'EUR', gross: 1532000, fee: -26810, net: 1505190 }],
      error: null,
      createdAt: '2026-12-01T06:00:00.000Z',
      completedAt: '2026-12-01T06:00:04.000Z',
    } satisfies z.infer<typeof ReconciliationRunData>,
  },
  {
    type: 'ledger.imbalance',
    description:
      "The continuous ledger check found the merchant's ledger wrong: a kept balance that its entries do not sum to, a currency whose accounts do not sum to zero, or an unbalanced transaction. Also sent to the operator webhook. `data` is the check as GET /v1/ledger/checks lists it.",
    data: LedgerImbalanceData,
    example: {
      id: 'lck_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
      kind: 'incremental',
      status: 'failed',
      entries: 412,
      accounts: 6,
      problems: [{ problem: 'balance_drift', account: 'merchant:available', currency: 'EUR', kept: 101000, fromEntries: 100000 }],
      startedAt: '2026-12-01T10:15:00.000Z',
      finishedAt: '2026-12-01T10:15:00.120Z',
    } satisfies z.infer<typeof LedgerImbalanceData>,
  },
];

/** Every event type Switchyard emits, in a stable order. */
export const EVENT_CATALOGUE: readonly EventTypeEntry[] = [
  ...PAYMENT_EVENTS.map(([type, what]) => ({
    type,
    description: `${what} \`data\` is the payment as GET /v1/payments/{id} returns it, amounts in minor units.`,
    data: PaymentView,
    example: paymentExample,
  })),
  {
    type: 'endpoint.disabled',
    description:
      "One of the merchant's endpoints was disabled (it answered 410, or failed every attempt for too long); sent to its other endpoints.",
    data: EndpointDisabledData,
    example: {
      endpointId: 'ep_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
      url: 'https://shop.example.com/webhooks',
      reason: 'the endpoint answered 410 Gone',
      disabledAt: '2026-12-01T10:15:00.000Z',
    } satisfies z.infer<typeof EndpointDisabledData>,
  },
  {
    type: 'webhook.test',
    description: 'Sent by POST /v1/endpoints/{id}/test to that endpoint only.',
    data: WebhookTestData,
    example: {
      endpointId: 'ep_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c',
      message: 'This is a test webhook from Switchyard. If its signature verified, your endpoint is ready.',
    } satisfies z.infer<typeof WebhookTestData>,
  },
  ...OTHER_EVENTS,
];

/** The JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) of an event type's `data`. */
export function dataJsonSchema(entry: EventTypeEntry): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(entry.data, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' });
  // a union of object shapes (reconciliation.mismatch: an item, or a stuck payment) is still an object
  const anyOf = schema.anyOf as { type?: unknown }[] | undefined;
  return anyOf?.every((s) => s.type === 'object') ? { type: 'object', ...schema } : schema;
}

/** The Standard Webhooks body of an event type: `{"type", "timestamp", "data"}`. */
function envelopeOf(entry: EventTypeEntry): z.ZodType {
  return z.object({
    type: z.literal(entry.type),
    timestamp: z.iso.datetime().openapi({ description: 'When the event was emitted, ISO 8601.' }),
    data: entry.data,
  });
}

const webhookHeaders = z.object({
  'webhook-id': z.string().openapi({ description: 'The message id (`msg_…`), the same on every attempt: deduplicate on it.' }),
  'webhook-timestamp': z.string().openapi({ description: 'Unix seconds of this attempt.' }),
  'webhook-signature': z
    .string()
    .openapi({ description: 'Space-separated `v1,<base64 HMAC-SHA256>` per active secret (and `v1a,<base64 Ed25519>` when on).' }),
});

/**
 * Lists every {@link EVENT_CATALOGUE} type in the OpenAPI document's `webhooks` (OpenAPI 3.1): a POST to the merchant's
 * endpoint with the signed Standard Webhooks headers and the `{"type", "timestamp", "data"}` body.
 */
export function registerEventWebhooks(app: OpenAPIHono<AppEnv>): void {
  for (const entry of EVENT_CATALOGUE) {
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: entry.type,
      tags: ['Webhooks'],
      summary: entry.type,
      description: entry.description,
      request: {
        headers: webhookHeaders,
        body: {
          required: true,
          content: {
            'application/json': {
              schema: envelopeOf(entry),
              example: { type: entry.type, timestamp: '2026-12-01T10:15:00.000Z', data: entry.example },
            },
          },
        },
      },
      responses: {
        200: { description: 'Any 2xx within the timeout acknowledges it; anything else is retried (410 disables the endpoint).' },
      },
    });
  }
}
