// The load generator of `npm run bench:inbound`, in a process of its own so that it does
// not share the gateway's event loop: autocannon (programmatic API) posting Stripe-signed
// events, each with a new event id, signed as it is sent. It writes the event ids that
// were answered 200 to `ackedFile` (one per line) and sends autocannon's summary back.
import { createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import autocannon from 'autocannon';

/** What the parent asks for, as the one IPC message. */
export interface LoadRequest {
  url: string;
  connections: number;
  durationSeconds: number;
  /** The Stripe signing secret (`whsec_…`), used whole as the HMAC key. */
  secret: string;
  /** The event body with `__EVT__` where the event id goes and `__PI__` where the payment intent id goes. */
  template: string;
  /** Prefix of this run's event ids, so that runs never collide. */
  tag: string;
  ackedFile: string;
}

/** What the child answers. */
export interface LoadResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  statusCodes: Record<string, number>;
  /** CPU time this load generator used during the run (user + system), µs. */
  cpuMicros: number;
}

interface Ctx {
  eventId?: string;
}

async function run(req: LoadRequest): Promise<LoadResult> {
  const acked: string[] = [];
  let n = 0;
  const statusCodes: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const result = await autocannon({
    url: req.url,
    connections: req.connections,
    duration: req.durationSeconds,
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: new URL(req.url).pathname,
        setupRequest(request: Record<string, unknown>, context: Ctx) {
          n += 1;
          const eventId = `evt_${req.tag}_${n.toString(36)}`;
          const body = req.template.replace('__EVT__', eventId).replace('__PI__', `pi_${req.tag}_${n.toString(36)}`);
          const t = Math.floor(Date.now() / 1000);
          const v1 = createHmac('sha256', req.secret).update(`${t}.${body}`).digest('hex');
          context.eventId = eventId;
          request.body = body;
          request.headers = { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${v1}` };
          return request;
        },
        onResponse(status: number, _body: string, context: Ctx) {
          statusCodes[status] = (statusCodes[status] ?? 0) + 1;
          if (status === 200 && context.eventId) acked.push(context.eventId);
        },
      },
    ],
  } as unknown as autocannon.Options);
  const cpu = process.cpuUsage(cpu0);
  await writeFile(req.ackedFile, acked.join('\n'));
  return {
    sent: n,
    ok: acked.length,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    statusCodes,
    cpuMicros: cpu.user + cpu.system,
  };
}

process.once('message', (req: LoadRequest) => {
  run(req).then(
    (r) => process.send?.({ result: r }, undefined, {}, () => process.exit(0)),
    (e: unknown) => process.send?.({ error: String((e as Error)?.stack ?? e) }, undefined, {}, () => process.exit(1)),
  );
});
