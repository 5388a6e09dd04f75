// The open-loop load generator of `npm run bench:e2e`, in a process of its own: request i
// of a step is sent at t0 + i/rate whatever became of the earlier ones (an undici Pool of
// up to 256 connections queues what finds no free connection), so a slow gateway shows in
// the latencies instead of slowing the sender (no coordinated omission). Each request is a
// Stripe-signed payment_intent.succeeded with its own event id and payment intent
// `pi_<tag>_<i in base 36>`, signed as it is sent. Times are wall clock, ms with sub-ms
// precision (performance.timeOrigin + performance.now()), comparable with the receiver's.
import { createHmac } from 'node:crypto';
import { Pool } from 'undici';
import { signStripe } from '../src/inbound/verifiers/testing.js';

/** One step, as the one IPC message per step. */
export interface StepRequest {
  id: number;
  /** POST target: the gateway's `/inbound/{sourceId}` URL. */
  url: string;
  /** Events per second. */
  rate: number;
  seconds: number;
  /** Part of every event and payment intent id of the step; letters and digits only. */
  tag: string;
  /** The Stripe signing secret (`whsec_…`), used whole as the HMAC key. */
  secret: string;
  /** The event body with `__EVT__` where the event id goes and `__PI__` where the payment intent id goes. */
  template: string;
}

/** What the generator answers once every request of the step has its answer (or error). */
export interface StepResult {
  id: number;
  /** Scheduled send time of request 0, ms since the epoch; request i is due at t0 + i * 1000 / rate. */
  t0: number;
  /** Actual send time of each request, ms since the epoch. */
  sentAt: Float64Array;
  /** When each answer was read to its end (or the request failed), ms since the epoch. */
  ackAt: Float64Array;
  /** HTTP status of each answer; 0 when the request failed (error counts in `errors`). */
  status: Int16Array;
  errors: Record<string, number>;
}

const now = (): number => performance.timeOrigin + performance.now();

/** The payment intent id of request `i` of the step tagged `tag` (the receiver maps it back). */
export function paymentIntentId(tag: string, i: number): string {
  return `pi_${tag}_${i.toString(36)}`;
}

/** Stripe's scheme (https://docs.stripe.com/webhooks#verify-manually): `t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">`. */
function stripeSignature(secret: string, body: string, t: number): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

const pools = new Map<string, Pool>();

async function runStep(req: StepRequest): Promise<StepResult> {
  const origin = new URL(req.url).origin;
  const path = new URL(req.url).pathname;
  let pool = pools.get(origin);
  if (!pool) {
    pool = new Pool(origin, { connections: 256, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
    pools.set(origin, pool);
  }
  const p = pool;
  const n = Math.max(1, Math.round(req.rate * req.seconds));
  const interval = 1000 / req.rate;
  const sentAt = new Float64Array(n);
  const ackAt = new Float64Array(n).fill(Number.NaN);
  const status = new Int16Array(n);
  const errors: Record<string, number> = {};
  const t0 = now() + 20;
  let pending = n;
  return new Promise((resolve) => {
    const settle = () => {
      pending -= 1;
      if (pending === 0) resolve({ id: req.id, t0, sentAt, ackAt, status, errors });
    };
    const fire = (i: number) => {
      const body = req.template.replace('__EVT__', `evt_${req.tag}_${i.toString(36)}`).replace('__PI__', paymentIntentId(req.tag, i));
      const headers = {
        'content-type': 'application/json',
        'stripe-signature': stripeSignature(req.secret, body, Math.floor(Date.now() / 1000)),
      };
      sentAt[i] = now();
      p.request({ path, method: 'POST', headers, body }).then(
        async (res) => {
          await res.body.dump();
          ackAt[i] = now();
          status[i] = res.statusCode;
          settle();
        },
        (error: unknown) => {
          ackAt[i] = now();
          const code = String((error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error');
          errors[code] = (errors[code] ?? 0) + 1;
          settle();
        },
      );
    };
    let i = 0;
    const tick = () => {
      const t = now();
      while (i < n && t0 + i * interval <= t) fire(i++);
      if (i < n) setTimeout(tick, Math.max(0, t0 + i * interval - now()));
    };
    setTimeout(tick, Math.max(0, t0 - now()));
  });
}

/** Refuses to start when this file's signer and the repo's Stripe signer disagree. */
async function checkSigner(): Promise<void> {
  const at = new Date(1_700_000_000_000);
  const body = '{"id":"evt_check"}';
  const ours = stripeSignature('whsec_check', body, Math.floor(at.getTime() / 1000));
  const repo = await signStripe(body, 'whsec_check', at);
  if (ours !== repo) throw new Error(`the load generator's Stripe signature ${ours} differs from signStripe's ${repo}`);
}

const ready = checkSigner();
process.on('message', (req: StepRequest) => {
  ready
    .then(() => runStep(req))
    .then(
      (result) => process.send?.({ result }),
      (error: unknown) => process.send?.({ id: req.id, error: String((error as Error)?.stack ?? error) }),
    );
});
process.on('disconnect', () => {
  for (const pool of pools.values()) void pool.destroy();
  process.exit(0);
});
