// (test) Real Switchyard processes (`node --import tsx src/app/cli/index.ts all|serve|work`) on a
// database of the test's own, a merchant set up over HTTP, a Stripe-signed load, and the counts
// that say whether anything was lost or doubled.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';
import { expect } from 'vitest';
import { createSql, type Sql } from '../../src/core/db/client.js';
import { buildStripeEvent } from '../../src/dev/simulate/stripe.js';
import type { Receiver } from '../receiver.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ADMIN_TOKEN = 'adm_durability_token_0123456789';
const STRIPE_SECRET = 'whsec_durability_0123456789abcdef';

/** A running role: its base URL (`serve`/`all`), what it printed, and how it ended. */
export interface RoleProcess {
  role: 'all' | 'serve' | 'work';
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then resolves with how it exited. */
  terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Base environment of every role: the database, one master key, short retries, private URLs allowed. */
export function roleEnv(databaseUrl: string, masterKey: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-role-'));
  process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: databaseUrl,
    SWITCHYARD_MASTER_KEY: masterKey,
    SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1,1,1',
    SWITCHYARD_DATABASE_CONNECT_TIMEOUT_SECONDS: '10',
    PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
    ...extra,
  };
}

/** Spawns `switchyard <role>` (Node with tsx as its loader, so signals reach the gateway) and waits for its banner. */
export async function spawnRole(role: RoleProcess['role'], env: NodeJS.ProcessEnv): Promise<RoleProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/cli/index.ts', role], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /Switchyard is running at (http:\/\/\S+)/.exec(out);
      if (m || /Switchyard worker is running/.test(out)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m?.[1] ?? '');
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited (${code ?? signal}) while starting:\n${out}`));
    });
  });
  return {
    role,
    child,
    url,
    output: () => out,
    exited,
    terminate() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

async function call(base: string, method: string, route: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(base + route, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** A merchant with a Stripe source and one endpoint at `receiverUrl` for payment.captured; returns the inbound path. */
export async function setUpMerchant(base: string, receiverUrl: string): Promise<{ inboundPath: string; merchantId: string }> {
  const merchant = await call(base, 'POST', '/admin/merchants', ADMIN_TOKEN, { name: 'Durable' });
  const source = await call(base, 'POST', '/v1/sources', merchant.apiKey, { provider: 'stripe', secret: STRIPE_SECRET });
  await call(base, 'POST', '/v1/endpoints', merchant.apiKey, { url: receiverUrl, eventTypes: ['payment.captured'] });
  return { inboundPath: source.inboundUrl, merchantId: merchant.id };
}

/** One request of the load and how it was answered (status 0: no answer at all). */
export interface Posted {
  eventId: string;
  status: number;
  code?: string;
  ms: number;
  at: number;
}

/**
 * Posts a Stripe-signed `payment_intent.succeeded` (a new payment intent each) to `target()` at
 * `perSecond`, until `stop()`; a refused or unanswered event is not retried (the test counts only
 * acks). Each request is bounded by `timeoutMs`.
 */
export function startLoad(target: () => string, perSecond: number, timeoutMs = 20_000) {
  const stripe = new Stripe('sk_test_unused');
  const posted: Posted[] = [];
  const pending = new Set<Promise<void>>();
  let n = 0;
  const tag = Math.random().toString(36).slice(2, 8);
  const one = async () => {
    const i = ++n;
    const event = buildStripeEvent('payment_intent.succeeded', { paymentIntent: `pi_${tag}_${i}`, amount: 1000 + i, currency: 'usd' });
    const payload = JSON.stringify(event);
    const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET });
    const started = Date.now();
    let status = 0;
    let code: string | undefined;
    try {
      const res = await fetch(target(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body: payload,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      const text = await res.text();
      if (status !== 200) code = (JSON.parse(text) as { code?: string }).code;
    } catch {
      status = 0;
    }
    posted.push({ eventId: event.id as string, status, ...(code ? { code } : {}), ms: Date.now() - started, at: started });
  };
  const interval = Math.max(1, Math.round(1000 / perSecond));
  const perTick = Math.max(1, Math.round((perSecond * interval) / 1000));
  const timer = setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      const p = one().finally(() => pending.delete(p));
      pending.add(p);
    }
  }, interval);
  return {
    posted,
    /** Stops posting and waits for the requests still out. */
    async stop(): Promise<Posted[]> {
      clearInterval(timer);
      await Promise.all([...pending]);
      return posted;
    },
  };
}

/** What the database says about the events the PSP sent: per Stripe event id, how many rows of each kind. */
export interface Ledger {
  inbound: Map<string, number>;
  unprocessed: number;
  /** message id → messages of its event (1 unless an event was emitted twice). */
  messages: Map<string, number>;
  /** webhook-id (message id) → successful attempts recorded. */
  succeeded: Map<string, number>;
  /** Failed attempts recorded, with their error text. */
  failedAttempts: { messageId: string; error: string | null; status: number | null }[];
}

/** Counts of inbound events, messages and attempts of `merchantId`. */
export async function readLedger(sql: Sql, merchantId: string): Promise<Ledger> {
  const inbound = await sql<{ event_id: string; n: number; unprocessed: number }[]>`
    select event_id, count(*)::int as n, count(*) filter (where processed_at is null)::int as unprocessed
      from gw.inbound_events where merchant_id = ${merchantId} group by event_id`;
  const messages = await sql<{ id: string; n: number }[]>`
    select id, count(*) over (partition by event_id)::int as n from gw.messages where merchant_id = ${merchantId}`;
  const attempts = await sql<{ message_id: string; ok: boolean; error: string | null; status: number | null }[]>`
    select a.message_id, a.status = 'succeeded' as ok, a.error, a.response_status as status
      from gw.attempts a join gw.messages m on m.id = a.message_id
     where m.merchant_id = ${merchantId}`;
  const succeeded = new Map<string, number>();
  for (const a of attempts) if (a.ok) succeeded.set(a.message_id, (succeeded.get(a.message_id) ?? 0) + 1);
  return {
    inbound: new Map(inbound.map((r) => [r.event_id, r.n])),
    unprocessed: inbound.reduce((s, r) => s + r.unprocessed, 0),
    messages: new Map(messages.map((r) => [r.id, r.n])),
    succeeded,
    failedAttempts: attempts.filter((a) => !a.ok).map((a) => ({ messageId: a.message_id, error: a.error, status: a.status })),
  };
}

/** webhook-id → deliveries the receiver got. */
export function receivedByWebhookId(receiver: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of receiver.received) {
    const id = String(r.headers['webhook-id']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * Every acked event stored once; any other stored event is one the PSP was refused (a store that committed
 * after its request timed out: the PSP's retry is acked as a duplicate); every stored event made one message,
 * recorded delivered by one successful attempt; the receiver got every message. A message it got twice must
 * have been first sent while the database was failing or recovering (`redeliveryWindow`, ms since the epoch): its success
 * could not be recorded, so it was sent again with the same webhook-id (at least once); outside an outage,
 * pass no window and every message must arrive exactly once.
 */
export function assertNothingLostOrDoubled(
  ledger: Ledger,
  acked: string[],
  refused: Set<string>,
  receiver: Receiver,
  redeliveryWindow?: { from: number; to: number },
): void {
  for (const id of acked) expect(ledger.inbound.get(id), `acked ${id}`).toBe(1);
  const ackedSet = new Set(acked);
  const unacked = [...ledger.inbound.keys()].filter((id) => !ackedSet.has(id));
  expect(unacked.filter((id) => !refused.has(id))).toEqual([]);
  expect([...ledger.inbound.values()].every((n) => n === 1)).toBe(true);
  expect(ledger.unprocessed).toBe(0);
  expect(ledger.messages.size).toBe(ledger.inbound.size);
  expect([...ledger.messages.values()].every((n) => n === 1)).toBe(true);
  expect(ledger.succeeded.size).toBe(ledger.messages.size);
  expect([...ledger.succeeded.values()].filter((n) => n !== 1)).toEqual([]);
  const received = receivedByWebhookId(receiver);
  expect(new Set(received.keys())).toEqual(new Set(ledger.messages.keys()));
  const doubled = [...received.entries()].filter(([, n]) => n > 1).map(([id]) => id);
  const firstAt = (id: string) => Math.min(...receiver.received.filter((r) => r.headers['webhook-id'] === id).map((r) => r.at));
  const unexplained = doubled.filter((id) => !redeliveryWindow || firstAt(id) < redeliveryWindow.from || firstAt(id) > redeliveryWindow.to);
  expect(unexplained).toEqual([]);
}

export { createSql };
