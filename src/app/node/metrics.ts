// (node) Prometheus metrics with prom-client: one registry per process, built by the entry file.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sql } from '../../core/db/client.js';
import type { DeliveryOutcome, DisableReason, InboundOutcome, Log, MetricsSink, PspFetchOutcome } from '../../core/deps.js';
import type { TaskName } from '../../core/jobs/catalog.js';
import { countDisabledEndpoints, readQueueStats, type QueueStats } from './metrics-store.js';

/** What a scrape reads from the database; undefined where the read failed. */
interface DatabaseReads {
  queue: QueueStats[] | undefined;
  disabledEndpoints: number | undefined;
}

// Every task, so its queue series read 0 rather than vanish when its queue is empty.
const TASKS = Object.keys({ process_inbound_event: true, deliver_message: true } satisfies Partial<Record<TaskName, true>>);

/** Request and attempt latencies, seconds: 5 ms to 30 s (a delivery times out at 15 s by default). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30];

/** The registry behind `GET /metrics` and the sink every part of Switchyard reports to. */
interface Metrics extends MetricsSink {
  /** The prom-client registry of this process (for tests, or to add metrics). */
  readonly registry: Registry;
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * Builds one process's `switchyard_*` metrics on its own registry (not prom-client's global
 * one, so two apps in one process count apart): counters and histograms of inbound requests
 * and acks (labels `provider`, `outcome`), job runs (`task`, `outcome`), delivery attempts
 * (`outcome`), auto-disabled endpoints (`reason`), ledger check failures, verify-or-fetch PSP reads (`provider`,
 * `outcome`) and their calls' durations (`provider`); scrape-time
 * gauges of queue depth (`task`, `state`), failed jobs and oldest ready job age (`task`), and
 * disabled endpoints. Each metric's name and help text are in the code below.
 *
 * Scrape-time gauges cost two queries on `sql`; if they fail, those gauges are left out
 * (`switchyard_endpoints_disabled` reads NaN) and the failure is counted and logged.
 * `options.process` adds prom-client's default `process_*` and `nodejs_*` metrics.
 *
 * @example
 * const metrics = createMetrics(sql, { logger, process: true });
 * const deps: Deps = { ...rest, metrics };
 * const { contentType, body } = await metrics.render();
 */
export function createMetrics(sql: Sql, options: { logger?: Log; process?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.process) collectDefaultMetrics({ register: registry });

  const inboundRequests = new Counter({
    name: 'switchyard_inbound_requests_total',
    help: 'Inbound PSP requests answered, by provider and outcome (stored, duplicate, or the problem code).',
    labelNames: ['provider', 'outcome'] as const,
    registers,
  });
  const inboundAck = new Histogram({
    name: 'switchyard_inbound_ack_duration_seconds',
    help: 'Time from receiving an inbound request to answering it, seconds.',
    labelNames: ['provider', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const jobs = new Counter({
    name: 'switchyard_jobs_total',
    help: 'graphile-worker job runs, by task and outcome (ok, or error: it threw and will be retried).',
    labelNames: ['task', 'outcome'] as const,
    registers,
  });
  const attempts = new Counter({
    name: 'switchyard_delivery_attempts_total',
    help: 'Webhook delivery attempts sent, by outcome (success, retry, throttle, gone, or error: no response).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const attemptDuration = new Histogram({
    name: 'switchyard_delivery_attempt_duration_seconds',
    help: 'Duration of one delivery attempt, request to response (or timeout), seconds.',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const autoDisabled = new Counter({
    name: 'switchyard_endpoints_auto_disabled_total',
    help: 'Endpoints disabled by the delivery worker, by reason (gone: answered 410; failing: failed for the disable window).',
    labelNames: ['reason'] as const,
    registers,
  });
  const ledgerCheckFailures = new Counter({
    name: 'switchyard_ledger_check_failures_total',
    help: 'Ledger checks that found the ledger unbalanced: the continuous check task and GET /v1/ledger/check.',
    registers,
  });
  const pspFetchReads = new Counter({
    name: 'switchyard_psp_fetch_reads_total',
    help: 'Verify or fetch: PSP objects read (or not), by provider and outcome (found, not_found, refused, unavailable, over_budget, given_up).',
    labelNames: ['provider', 'outcome'] as const,
    registers,
  });
  const pspFetchDuration = new Histogram({
    name: 'switchyard_psp_fetch_duration_seconds',
    help: "Verify or fetch: duration of one call reading a source's objects from its PSP's API, seconds.",
    labelNames: ['provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const perTask = (stats: QueueStats[]): QueueStats[] => {
    const byTask = new Map<string, QueueStats>(
      TASKS.map((task) => [task, { task, ready: 0, scheduled: 0, running: 0, failed: 0, oldestReadySeconds: 0 }]),
    );
    for (const s of stats) byTask.set(s.task, s);
    return [...byTask.values()];
  };
  // prom-client runs every collect of a scrape at once: the first starts the reads, the rest share them.
  let failures = 0;
  const failed =
    (what: string) =>
    (err: unknown): undefined => {
      failures++;
      options.logger?.warn({ err }, `metrics: could not read ${what}`);
      return undefined;
    };
  let inFlight: Promise<DatabaseReads> | undefined;
  const databaseReads = (): Promise<DatabaseReads> => {
    inFlight ??= Promise.all([
      readQueueStats(sql).catch(failed('the job queue')),
      countDisabledEndpoints(sql).catch(failed('disabled endpoints')),
    ])
      .then(([queue, disabledEndpoints]) => ({ queue: queue && perTask(queue), disabledEndpoints }))
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  new Gauge({
    name: 'switchyard_queue_depth',
    help: 'graphile-worker jobs not yet done, by task and state (ready: due and waiting; scheduled: not due yet; running: locked by a worker).',
    labelNames: ['task', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const s of (await databaseReads()).queue ?? []) {
        this.set({ task: s.task, state: 'ready' }, s.ready);
        this.set({ task: s.task, state: 'scheduled' }, s.scheduled);
        this.set({ task: s.task, state: 'running' }, s.running);
      }
    },
  });
  new Gauge({
    name: 'switchyard_queue_failed_jobs',
    help: 'graphile-worker jobs out of attempts (kept until deleted), by task.',
    labelNames: ['task'] as const,
    registers,
    async collect() {
      this.reset();
      for (const s of (await databaseReads()).queue ?? []) this.set({ task: s.task }, s.failed);
    },
  });
  new Gauge({
    name: 'switchyard_queue_oldest_job_age_seconds',
    help: 'How long the oldest ready graphile-worker job has been due, by task, seconds (0 when none is waiting).',
    labelNames: ['task'] as const,
    registers,
    async collect() {
      this.reset();
      for (const s of (await databaseReads()).queue ?? []) this.set({ task: s.task }, s.oldestReadySeconds);
    },
  });
  new Gauge({
    name: 'switchyard_endpoints_disabled',
    help: 'Endpoints disabled now, across all merchants.',
    registers,
    async collect() {
      // A gauge without labels cannot be left out: NaN rather than a false 0.
      this.set((await databaseReads()).disabledEndpoints ?? Number.NaN);
    },
  });
  // Registered after the gauges, so its collect runs once their reads are under way.
  new Counter({
    name: 'switchyard_metrics_scrape_errors_total',
    help: 'Database reads for the scrape-time gauges that failed (those gauges are left out of that scrape).',
    registers,
    async collect() {
      await inFlight;
      this.reset();
      this.inc(failures);
    },
  });

  return {
    registry,
    inbound(provider: string, outcome: InboundOutcome, seconds: number): void {
      inboundRequests.inc({ provider, outcome });
      inboundAck.observe({ provider, outcome }, seconds);
    },
    job(task: string, outcome: 'ok' | 'error'): void {
      jobs.inc({ task, outcome });
    },
    delivery(outcome: DeliveryOutcome, seconds: number): void {
      attempts.inc({ outcome });
      attemptDuration.observe({ outcome }, seconds);
    },
    endpointDisabled(reason: DisableReason): void {
      autoDisabled.inc({ reason });
    },
    ledgerCheckFailed(): void {
      ledgerCheckFailures.inc();
    },
    pspFetch(provider: string, outcome: PspFetchOutcome, count: number): void {
      pspFetchReads.inc({ provider, outcome }, count);
    },
    pspFetchDuration(provider: string, seconds: number): void {
      pspFetchDuration.observe({ provider }, seconds);
    },
    async render(): Promise<{ contentType: string; body: string }> {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
