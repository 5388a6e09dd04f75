// `npm run bench`: ack latency of the inbound route and the time from a PSP's POST to the
// merchant's delivery, on a fresh embedded (or DATABASE_URL) database. Prints figures and
// the machine; it is not a test and asserts nothing but that nothing was lost.
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/app/node/logger.js';
import { startGateway } from '../src/app/gateway.js';
import { buildStripeEvent } from '../src/dev/simulate/stripe.js';
import { signStripe } from '../src/inbound/verifiers/testing.js';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 300);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 2000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-'));
  await chmod(dataDir, 0o755);
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    LOG_LEVEL: 'silent',
  });
  const gateway = await startGateway(config, { logger: createLogger('silent') });
  const delivered = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { pspReference: string } };
      delivered.set(body.data.pspReference, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  try {
    const post = async (p: string, token: string, body: unknown) => {
      const res = await fetch(gateway.url + p, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, string>;
    };
    const merchant = await post('/admin/merchants', gateway.adminToken, { name: 'Bench' });
    const secret = 'whsec_bench_secret_0123456789abcdef';
    const source = await post('/v1/sources', merchant.apiKey!, { provider: 'stripe', secret });
    await post('/v1/endpoints', merchant.apiKey!, { url: receiverUrl, eventTypes: ['payment.captured'] });

    const sent = new Map<string, number>();
    const sendOne = async (i: number, tag: string): Promise<number> => {
      const pi = `pi_${tag}_${i}`;
      const body = JSON.stringify(buildStripeEvent('payment_intent.succeeded', { paymentIntent: pi, amount: 1000 + i }));
      const sig = await signStripe(body, secret, new Date());
      const t0 = performance.now();
      sent.set(pi, t0);
      const res = await fetch(`${gateway.url}/inbound/${source.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': sig },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`ack ${res.status}`);
      return performance.now() - t0;
    };

    // warm-up
    for (let i = 0; i < 20; i++) await sendOne(i, 'warm');

    const seq: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) seq.push(await sendOne(i, 'seq'));

    const conc: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < CONCURRENT) conc.push(await sendOne(next++, 'conc'));
      }),
    );
    const ackSeconds = (performance.now() - started) / 1000;

    const total = 20 + SEQUENTIAL + CONCURRENT;
    const deadline = Date.now() + 120_000;
    while (delivered.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const drainSeconds = (performance.now() - started) / 1000;
    const seqLatency = [...sent].filter(([k]) => k.startsWith('pi_seq_')).map(([k, t]) => (delivered.get(k) ?? NaN) - t);
    const [{ rows }] = [{ rows: await gateway.deps.sql<{ n: number }[]>`select count(*)::int as n from gw.inbound_events` }];
    const stored = rows[0]?.n ?? 0;
    const [pg] = await gateway.deps.sql<{ v: string }[]>`select current_setting('server_version') as v`;

    const cpu = os.cpus();
    console.log(
      `machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, PostgreSQL ${pg?.v} (${gateway.embedded ? 'embedded' : 'DATABASE_URL'})`,
    );
    console.log(`ack latency, one request at a time (n=${SEQUENTIAL}): p50 ${ms(pct(seq, 50))} ms, p99 ${ms(pct(seq, 99))} ms`);
    console.log(
      `ack latency, ${CONNECTIONS} at a time (n=${CONCURRENT}): p50 ${ms(pct(conc, 50))} ms, p99 ${ms(pct(conc, 99))} ms, ${Math.round(CONCURRENT / ackSeconds)} acks/s`,
    );
    console.log(`inbound POST → merchant delivery, one at a time: p50 ${ms(pct(seqLatency, 50))} ms, p99 ${ms(pct(seqLatency, 99))} ms`);
    console.log(
      `the ${CONCURRENT}-event burst was processed and delivered ${ms(drainSeconds)} s after it started: ${Math.round(CONCURRENT / drainSeconds)} events/s end to end (${ms(drainSeconds / ackSeconds)}× the ack time)`,
    );
    console.log(`stored ${stored} of ${total} acked events, delivered ${delivered.size}; missing ${total - stored}`);
    console.log(
      JSON.stringify({
        bench: 'skeleton',
        ackP50Ms: ms(pct(seq, 50)),
        ackP99Ms: ms(pct(seq, 99)),
        acksPerSec: Math.round(CONCURRENT / ackSeconds),
        deliveryP50Ms: ms(pct(seqLatency, 50)),
        deliveryP99Ms: ms(pct(seqLatency, 99)),
        endToEndEventsPerSec: Math.round(CONCURRENT / drainSeconds),
        missing: total - stored,
        undelivered: total - delivered.size,
      }),
    );
  } finally {
    receiver.close();
    await gateway.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
