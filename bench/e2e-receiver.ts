// The merchant of `npm run bench:e2e`, in a process of its own: a plain node:http server
// answering 200 at once. For each delivery it records the receipt time (wall clock, ms with
// sub-ms precision: performance.timeOrigin + performance.now()) under the payment intent
// id of the body's `data.pspReference` (`pi_<tag>_<i in base 36>`, set by the load
// generator), and counts duplicates: a `webhook-id` (message) seen before, and a payment
// intent seen before.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the receiver recorded for one step tag. */
export interface Received {
  /** Request index i of each payment intent received, and its first receipt time (ms since the epoch), pairwise. */
  indices: number[];
  times: number[];
  /** Deliveries (HTTP requests) of the tag, duplicates included. */
  deliveries: number;
  /** Deliveries whose `webhook-id` had been received before (the same message delivered again). */
  duplicateMessages: number;
  /** Deliveries of a payment intent already received under another message id. */
  duplicatePayments: number;
}

/** Parent → receiver: `expect` registers the acked indices of a tag; `missing` counts those not received yet; `take` returns a tag's record. */
export type ReceiverRequest = { id: number } & ({ expect: { tag: string; indices: number[] } } | { missing: string } | { take: string });

interface TagRecord {
  first: Map<number, number>;
  deliveries: number;
  duplicateMessages: number;
  duplicatePayments: number;
  expected?: number[];
}

const now = (): number => performance.timeOrigin + performance.now();
const tags = new Map<string, TagRecord>();
const messageIds = new Set<string>();
let unrecognised = 0;

function record(tag: string): TagRecord {
  let r = tags.get(tag);
  if (!r) {
    r = { first: new Map(), deliveries: 0, duplicateMessages: 0, duplicatePayments: 0 };
    tags.set(tag, r);
  }
  return r;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    res.writeHead(200).end();
    let pi: unknown;
    try {
      pi = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { pspReference?: unknown } }).data?.pspReference;
    } catch {
      pi = undefined;
    }
    const m = typeof pi === 'string' ? /^pi_([a-z0-9]+)_([a-z0-9]+)$/.exec(pi) : null;
    if (!m) {
      unrecognised += 1;
      return;
    }
    const r = record(m[1]!);
    const i = Number.parseInt(m[2]!, 36);
    r.deliveries += 1;
    const messageId = String(req.headers['webhook-id'] ?? '');
    if (messageIds.has(messageId)) r.duplicateMessages += 1;
    else messageIds.add(messageId);
    if (r.first.has(i)) r.duplicatePayments += 1;
    else r.first.set(i, at);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ ready: (server.address() as AddressInfo).port }));

process.on('message', (m: ReceiverRequest) => {
  if ('expect' in m) {
    record(m.expect.tag).expected = m.expect.indices;
    process.send?.({ id: m.id, value: true });
  } else if ('missing' in m) {
    const r = record(m.missing);
    let missing = 0;
    for (const i of r.expected ?? []) if (!r.first.has(i)) missing += 1;
    process.send?.({ id: m.id, value: missing });
  } else {
    const r = record(m.take);
    const value: Received & { unrecognised: number } = {
      indices: [...r.first.keys()],
      times: [...r.first.values()],
      deliveries: r.deliveries,
      duplicateMessages: r.duplicateMessages,
      duplicatePayments: r.duplicatePayments,
      unrecognised,
    };
    process.send?.({ id: m.id, value });
  }
});
process.on('disconnect', () => process.exit(0));
