import { delay } from 'msw';
import { randomBytes, toHex } from '../../core/crypto.js';

/** One request a simulator received, in order. `replayed`: answered from its idempotency cache, no effect. */
export interface SimulatedCall {
  method: string;
  path: string;
  idempotencyKey: string | null;
  replayed: boolean;
  status: number;
}

/** How and when a simulator posts the PSP's webhooks to the gateway. */
export interface WebhookOptions {
  /** The source's `inboundUrl`, absolute (e.g. `http://localhost/inbound/src_…`). */
  url: string;
  /** The source's signing secret (Stripe `whsec_…`, Adyen hex HMAC key). */
  secret: string;
  /** `immediate` (default): sent right after the API response, in order; `manual`: held until {@link WebhookQueue.flush}. */
  delivery?: 'immediate' | 'manual';
  /** Immediate delivery waits this long first, ms (a late webhook). */
  delayMs?: number;
  /** Send every webhook twice (PSPs deliver at least once). */
  duplicate?: boolean;
  /** `flush()` sends the held webhooks newest first (out of order). */
  reverse?: boolean;
  /**
   * How to send one webhook; default global `fetch`. Under msw's `setupServer`, pass your app's handler, e.g.
   * `(req) => app.request(req)`, or let the gateway's URL through (`onUnhandledRequest: 'bypass'`).
   */
  send?: (request: Request) => Promise<Response>;
}

/** A failure to inject into the next calls. */
export interface InjectedFailure {
  /** `timeout`: the answer comes after `delayMs` (longer than the client waits); `server_error`: 500. */
  mode: 'timeout' | 'server_error';
  /** `timeout` only: act first (the PSP did it; the client never hears), default true. */
  afterEffect?: boolean;
  /** How long a timed-out answer is held, ms (default 5 000). */
  delayMs?: number;
  /** How many calls fail this way (default 1). */
  count?: number;
}

/** Webhooks waiting to be sent, and every response the gateway gave to those sent. */
export class WebhookQueue {
  private readonly held: (() => Promise<Request>)[] = [];
  /** The gateway's answers to each webhook sent, in send order. */
  readonly responses: Response[] = [];
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: WebhookOptions | undefined) {}

  /** Queues one webhook as a factory that signs and builds the Request when sent, so a late one has a fresh timestamp. */
  push(make: () => Promise<Request>): void {
    if (!this.options) return;
    if (this.options.delivery === 'manual') {
      this.held.push(make);
      return;
    }
    const wait = this.options.delayMs ?? 0;
    this.inFlight = this.inFlight.then(async () => {
      if (wait > 0) await delay(wait);
      await this.sendOne(make);
    });
  }

  /** How many webhooks are held for {@link flush}. */
  get pending(): number {
    return this.held.length;
  }

  /** Sends every held webhook (newest first with `reverse`), each twice with `duplicate`; returns the answers. */
  async flush(): Promise<Response[]> {
    await this.inFlight;
    const batch = this.held.splice(0, this.held.length);
    if (this.options?.reverse) batch.reverse();
    const out: Response[] = [];
    for (const make of batch) out.push(...(await this.sendOne(make)));
    return out;
  }

  /** Waits until every immediate webhook has been sent. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  private async sendOne(make: () => Promise<Request>): Promise<Response[]> {
    const send = this.options?.send ?? ((r: Request) => fetch(r));
    const out: Response[] = [];
    for (let i = 0; i < (this.options?.duplicate ? 2 : 1); i++) {
      const res = await send(await make());
      this.responses.push(res);
      out.push(res);
    }
    return out;
  }
}

/** An idempotency cache as PSPs keep one: key → the request's fingerprint and the stored answer. */
export class IdempotencyCache {
  private readonly entries = new Map<string, { fingerprint: string; status: number; body: unknown }>();

  get(key: string): { fingerprint: string; status: number; body: unknown } | undefined {
    return this.entries.get(key);
  }

  set(key: string, fingerprint: string, status: number, body: unknown): void {
    this.entries.set(key, { fingerprint, status, body });
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Injected failures, consumed one per call. */
export class FailureInjector {
  private readonly queue: InjectedFailure[] = [];

  add(f: InjectedFailure): void {
    for (let i = 0; i < (f.count ?? 1); i++) this.queue.push(f);
  }

  take(): InjectedFailure | undefined {
    return this.queue.shift();
  }
}

/** A random id with a prefix, Stripe style (`pi_…`). */
export const simId = (prefix: string, bytes = 12): string => `${prefix}_${toHex(randomBytes(bytes))}`;
