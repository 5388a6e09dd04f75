// `npm run bench:soak [-- --minutes N --rate R --png FILE]`: the gateway as a user runs it (`switchyard
// all` on a fresh database, bench/e2e.ts's helpers) under steady open-loop load for N minutes (20) at R
// events/s (200: half of the 400 events/s `all` sustained in `npm run bench:e2e` on the README's
// machine), Stripe-signed events each delivered to one merchant endpoint (bench/e2e-load.ts,
// bench/e2e-receiver.ts). Records per minute: RSS of each process (/proc), the gateway's event-loop
// delay p99 (prom-client's nodejs_eventloop_lag_p99_seconds on /metrics, reset at each scrape, so
// per minute), the database's size, its connections (all, and active), graphile-worker jobs waiting
// (due, not locked) and the post → receipt lag p99 of the minute's events. Prints the table and
// whether it stayed flat (the gateway's RSS and the lag p99 at the end within ±15 % of minute 5, or
// of the middle minute in a shorter run, and no more jobs waiting at the end than then plus one
// second of events), and writes a PNG chart (Vega-Lite → SVG → resvg). Not a test.
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, chmod, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { createSql } from '../src/core/db/client.js';
import { generateMasterKey } from '../src/core/secrets.js';
import { stripeTemplate } from './stripe-template.js';
import type { StepResult } from './e2e-load.js';
import type { Received } from './e2e-receiver.js';
import { rssKiB } from './e2e-proc.js';
import {
  buildCli,
  cleanUp,
  createDatabase,
  migrate,
  pct,
  roleEnv,
  setUp,
  startLoadGenerator,
  startReceiver,
  startRole,
  startServer,
  stopRole,
  STRIPE_SECRET,
  type Server,
} from './e2e.js';

const { values: flags } = parseArgs({
  options: { minutes: { type: 'string', default: '20' }, rate: { type: 'string', default: '200' }, png: { type: 'string' } },
});
const MINUTES = Number(flags.minutes);
const RATE = Number(flags.rate);
if (!Number.isInteger(MINUTES) || MINUTES < 1) throw new Error(`--minutes takes a whole number of minutes ≥ 1, not ${flags.minutes}`);
if (!Number.isFinite(RATE) || RATE <= 0) throw new Error(`--rate takes events per second > 0, not ${flags.rate}`);
/** Flat: within this share of the reference minute's value. */
const FLAT = 0.15;
const MINUTE_MS = 60_000;
const DRAIN_MS = 60_000;

const line = (s = '') => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (kib: number) => Math.round(kib / 1024);

/** One minute's figures. */
interface Row {
  minute: number;
  gatewayRssMiB: number;
  loadRssMiB: number;
  receiverRssMiB: number;
  eventLoopP99Ms: number | null;
  databaseMiB: number;
  connections: number;
  activeConnections: number;
  jobsWaiting: number;
  acked: number;
  delivered: number;
  lagP99Ms: number | null;
}

/** A gauge's value from Prometheus text (the first sample of `name`), or null. */
function gauge(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-soak-'));
  await chmod(tmp, 0o755);
  const png = path.resolve(flags.png ?? path.join(os.tmpdir(), `switchyard-soak-${new Date().toISOString().replace(/[:.]/g, '-')}.png`));
  let server: Server | undefined;
  const onSignal = () => void cleanUp(server, tmp).finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const cli = await buildCli();
    server = await startServer(tmp);
    const db = await createDatabase(server, 'soak');
    const env = roleEnv(db.url, path.join(tmp, 'data'), generateMasterKey());
    await migrate(env);
    const receiver = await startReceiver();
    const load = startLoadGenerator();
    const gateway = await startRole('all', env, path.join(tmp, 'all.log'));
    const inboundUrl = await setUp(gateway.url!, receiver.url);
    const stats = createSql(db.url, { max: 1, applicationName: 'bench-soak' });
    const template = stripeTemplate();
    const cpus = os.cpus();
    line(
      `machine: ${cpus[0]?.model ?? '?'} × ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}; node ${process.version}, PostgreSQL ${server.version} (${server.kind})`,
    );
    line(`gateway: ${cli}`);
    line(`soak: \`switchyard all\` (pid ${gateway.pid}), ${RATE} events/s for ${MINUTES} min, one endpoint; chart → ${png}`);
    const scrape = async () => (await fetch(`${gateway.url}/metrics`)).text();
    await scrape(); // starts the event-loop histogram's first minute

    const results: Promise<StepResult>[] = [];
    const sampled: Omit<Row, 'acked' | 'delivered' | 'lagP99Ms'>[] = [];
    const started = Date.now();
    for (let m = 0; m < MINUTES; m++) {
      results.push(load.run({ url: inboundUrl, rate: RATE, seconds: 60, tag: `m${m}`, secret: STRIPE_SECRET, template }));
      await sleep(Math.max(0, started + (m + 1) * MINUTE_MS - Date.now()));
      const [metrics, [pg], gatewayRss, loadRss, receiverRss] = await Promise.all([
        scrape(),
        stats<{ bytes: string; connections: number; active: number; waiting: number }[]>`
          select pg_database_size(current_database())::text as bytes,
                 (select count(*)::int from pg_stat_activity where datname = current_database()) as connections,
                 (select count(*)::int from pg_stat_activity where datname = current_database() and state = 'active') as active,
                 (select count(*)::int from graphile_worker._private_jobs where locked_at is null and run_at <= now()) as waiting`,
        rssKiB(gateway.pid),
        rssKiB(load.child.pid!),
        rssKiB(receiver.child.pid!),
      ]);
      const eld = gauge(metrics, 'nodejs_eventloop_lag_p99_seconds');
      const row = {
        minute: m + 1,
        gatewayRssMiB: mib(gatewayRss),
        loadRssMiB: mib(loadRss),
        receiverRssMiB: mib(receiverRss),
        eventLoopP99Ms: eld === null ? null : Math.round(eld * 1000),
        databaseMiB: Math.round(Number(pg!.bytes) / 2 ** 20),
        connections: pg!.connections,
        activeConnections: pg!.active,
        jobsWaiting: pg!.waiting,
      };
      sampled.push(row);
      line(
        `minute ${row.minute}: gateway RSS ${row.gatewayRssMiB} MiB, event loop p99 ${row.eventLoopP99Ms} ms, database ${row.databaseMiB} MiB, ${row.connections} connections (${row.activeConnections} active), ${row.jobsWaiting} jobs waiting`,
      );
    }

    // Each minute's lag, once its events are in (or the drain wait is over).
    const steps = await Promise.all(results);
    const drainUntil = Date.now() + DRAIN_MS;
    const rows: Row[] = [];
    for (const [m, step] of steps.entries()) {
      const tag = `m${m}`;
      const acked: number[] = [];
      for (let i = 0; i < step.status.length; i++) if (step.status[i] === 200) acked.push(i);
      await receiver.ask({ expect: { tag, indices: acked } });
      while (Date.now() < drainUntil && (await receiver.ask<number>({ missing: tag })) > 0) await sleep(200);
      const got = await receiver.ask<Received>({ take: tag });
      const interval = 1000 / RATE;
      const lags = got.indices.map((i, k) => got.times[k]! - (step.t0 + i * interval));
      rows.push({
        ...sampled[m]!,
        acked: acked.length,
        delivered: got.indices.length,
        lagP99Ms: lags.length ? Math.round(pct(lags, 99)) : null,
      });
    }
    await stats.end();
    // The load generator and the receiver first, so the gateway's shutdown closes no connection they still use.
    load.child.disconnect();
    receiver.child.disconnect();
    await stopRole(gateway);

    printTable(rows);
    const verdict = flatness(rows);
    line();
    for (const v of verdict.lines) line(v);
    line(verdict.flat ? 'held: flat' : 'did not hold: not flat');
    await writeFile(png, await chart(rows));
    line(`chart: ${png}`);
    line(JSON.stringify({ bench: 'soak', minutes: MINUTES, rate: RATE, flat: verdict.flat, rows, png }));
  } finally {
    await cleanUp(server, tmp);
  }
}

function printTable(rows: Row[]): void {
  const head = [
    'min',
    'RSS gw MiB',
    'RSS load',
    'RSS recv',
    'ELD p99 ms',
    'db MiB',
    'conns',
    'active',
    'jobs waiting',
    'acked',
    'delivered',
    'lag p99 ms',
  ];
  const widths = head.map((h) => Math.max(h.length, 6));
  const fmt = (cells: unknown[]) => cells.map((c, i) => String(c ?? '-').padStart(widths[i]!)).join(' ');
  line();
  line(fmt(head));
  for (const r of rows)
    line(
      fmt([
        r.minute,
        r.gatewayRssMiB,
        r.loadRssMiB,
        r.receiverRssMiB,
        r.eventLoopP99Ms,
        r.databaseMiB,
        r.connections,
        r.activeConnections,
        r.jobsWaiting,
        r.acked,
        r.delivered,
        r.lagP99Ms,
      ]),
    );
}

/**
 * Flat: the last minute's gateway RSS and lag p99 within ±{@link FLAT} of the reference minute's (minute 5, or the
 * middle one of a shorter run), and no more jobs waiting at the end than at the reference plus one second of events.
 */
function flatness(rows: Row[]): { flat: boolean; lines: string[] } {
  const ref = rows[Math.min(4, Math.floor((rows.length - 1) / 2))]!;
  const end = rows[rows.length - 1]!;
  const within = (a: number | null, b: number | null) => a !== null && b !== null && b > 0 && Math.abs(a - b) / b <= FLAT;
  const change = (a: number | null, b: number | null) =>
    a !== null && b !== null && b > 0 ? `${a >= b ? '+' : ''}${Math.round(((a - b) / b) * 100)} %` : 'n/a';
  const rss = within(end.gatewayRssMiB, ref.gatewayRssMiB);
  const lag = within(end.lagP99Ms, ref.lagP99Ms);
  const queue = end.jobsWaiting <= ref.jobsWaiting + RATE;
  return {
    flat: rss && lag && queue,
    lines: [
      `reference minute ${ref.minute}, end minute ${end.minute}:`,
      `  gateway RSS ${ref.gatewayRssMiB} → ${end.gatewayRssMiB} MiB (${change(end.gatewayRssMiB, ref.gatewayRssMiB)}): ${rss ? 'within' : 'outside'} ±${FLAT * 100} %`,
      `  lag p99 ${ref.lagP99Ms} → ${end.lagP99Ms} ms (${change(end.lagP99Ms, ref.lagP99Ms)}): ${lag ? 'within' : 'outside'} ±${FLAT * 100} %`,
      `  jobs waiting ${ref.jobsWaiting} → ${end.jobsWaiting}: ${queue ? 'no growth' : `grew by more than ${RATE} (one second of events)`}`,
    ],
  };
}

/** A PNG of the figures per minute, one panel per figure (Vega-Lite compiled to Vega, rendered to SVG, then by resvg). */
async function chart(rows: Row[]): Promise<Buffer> {
  const series: [keyof Row, string][] = [
    ['gatewayRssMiB', 'gateway RSS, MiB'],
    ['eventLoopP99Ms', 'event-loop delay p99, ms'],
    ['lagP99Ms', 'post → receipt lag p99, ms'],
    ['databaseMiB', 'database size, MiB'],
    ['connections', 'database connections'],
    ['jobsWaiting', 'jobs waiting'],
  ];
  const values = rows.flatMap((r) => series.map(([key, label]) => ({ minute: r.minute, figure: label, value: r[key] })));
  const spec: vegaLite.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `switchyard all, ${RATE} events/s for ${MINUTES} min`,
    data: { values },
    facet: { row: { field: 'figure', type: 'nominal', title: null, sort: series.map(([, label]) => label) } },
    spec: {
      width: 640,
      height: 110,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'minute', type: 'quantitative', title: 'minute', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: true }, axis: { format: ',d' } },
      },
    },
    resolve: { scale: { y: 'independent' } },
    config: { background: 'white' },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true } }).render().asPng();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:soak failed: ${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  },
);
