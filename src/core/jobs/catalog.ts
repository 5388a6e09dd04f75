import { z } from 'zod';

const id = z.string().min(1);
const deliveryJob = z.object({ messageId: id, attempt: z.number().int().min(1) });
/** A settlement report a PSP said is ready (README "Reconcile": pulled reports). */
const pulledReport = z.discriminatedUnion('kind', [
  /** Stripe `payout.paid` / `payout.reconciliation_completed`: the payout's balance transactions. */
  z.object({ kind: z.literal('stripe_payout'), payoutId: z.string().min(1).max(255) }),
  /** Adyen `REPORT_AVAILABLE` of a settlement details report: its file name and download URL. */
  z.object({ kind: z.literal('adyen_report'), fileName: z.string().min(1).max(255), url: z.string().min(1).max(2048) }),
]);
// graphile-worker's cron adds `_cron` to the payload; the cron tasks ignore it.
const cron = z.object({});

/** Every graphile-worker task: its name and the zod schema of its payload. */
const catalog = {
  /** Apply stored inbound events: one ingest batch (storeInboundEvents), or one event (queued by hand). */
  process_inbound_event: z.union([z.object({ inboundEventIds: z.array(id).min(1) }), z.object({ inboundEventId: id })]),
  /** Verify or fetch: read the PSP objects of these events of `trust: fetch` sources, then apply them (src/inbound/verify-or-fetch.ts). */
  fetch_inbound_objects: z.object({
    inboundEventIds: z.array(id).min(1),
    /** Reads of these events that found the PSP unavailable so far (verify-or-fetch.ts FETCH_RETRY_SECONDS); absent: 0. */
    retries: z.number().int().min(0).max(1000).optional(),
  }),
  /** One delivery attempt (retries, put-offs, redeliveries), or a batch of them (first attempts, recoveries). */
  deliver_message: z.union([deliveryJob, z.array(deliveryJob)]),
  /** Ask the PSP for the outcome of one operation. */
  sync_psp_operation: z.object({ operationId: id }),
  /** Send again a review's compensating refund or void the PSP refused (src/payments-api/compensation.task.ts). */
  retry_review_compensation: z.object({ merchantId: id, reviewId: id, attempt: z.number().int().min(1) }),
  /** Cron, every minute: queue a sync of every stale PSP operation. */
  sync_stale_psp_operations: cron,
  /** Cron, every 10 minutes: delete expired idempotency keys. */
  purge_idempotency_keys: cron,
  /** Cron, hourly: create the retained tables' month partitions for this month and the next two (src/core/retention). */
  create_retention_partitions: cron,
  /** Cron, hourly: drop the retained tables' month partitions older than their retention setting. */
  purge_expired_partitions: cron,
  /** Match, post and report one loaded settlement report (src/reconciliation). */
  reconcile_settlement_report: z.object({ runId: id }),
  /** Fetch a settlement report from the PSP and load it as a run (src/reconciliation/pull-report.task.ts). */
  pull_settlement_report: z.object({ merchantId: id, sourceId: id, report: pulledReport }),
  /** Cron, every 5 minutes: list payments left `pending` past their source's settling time, ask the PSP (src/payments-api). */
  check_stuck_payments: cron,
  /** Cron, every SWITCHYARD_LEDGER_CHECK_EVERY_MINUTES: check every merchant's ledger (src/reconciliation/ledger-check.task.ts). */
  check_ledgers: cron,
  /** One page (0-based) of a bulk replay (src/outbound/replay.ts). */
  replay_messages: z.object({ replayId: id, page: z.number().int().min(0) }),
  /** One operational webhook to the operator's URL (src/outbound/operator-webhook.task.ts). */
  deliver_operator_event: z.object({ operatorEventId: id }),
};

/** A graphile-worker task name. */
export type TaskName = keyof typeof catalog;

/** The payload of task `T`. */
export type JobPayload<T extends TaskName> = z.infer<(typeof catalog)[T]>;

/** A settlement report a PSP said is ready, as the `pull_settlement_report` job names it. */
export type PulledReport = z.infer<typeof pulledReport>;

/** One delivery attempt as a `deliver_message` payload names it (`attempt` is 1-based). */
export type DeliveryJob = z.infer<typeof deliveryJob>;

/** `payload` parsed with task `task`'s schema; throws a ZodError if it does not match (graphile-worker keeps the job failed). */
export function parseJobPayload<T extends TaskName>(task: T, payload: unknown): JobPayload<T> {
  return catalog[task].parse(payload) as JobPayload<T>;
}
