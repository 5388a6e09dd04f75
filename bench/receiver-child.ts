// The bench's receivers, in their own process: /fast, /fanout/*, /healthy/* answer 200 at
// once; /hang answers after 15 s. Records, per path prefix, the count and each delivery's
// delay since the event's timestamp (ms).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const stats = new Map<string, { count: number; delays: number[] }>();
const prefix = (url: string) => `/${url.split('/')[1] ?? ''}`;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const p = prefix(req.url ?? '/');
    if (p === '/hang') {
      setTimeout(() => res.writeHead(200).end(), 15_000);
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
    const s = stats.get(p) ?? { count: 0, delays: [] };
    s.count++;
    s.delays.push(Date.now() - Date.parse(body.timestamp));
    stats.set(p, s);
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ ready: (server.address() as AddressInfo).port }));
process.on('message', (m: { id: number; stats?: string; reset?: boolean }) => {
  if (m.reset) stats.clear();
  process.send?.({ id: m.id, value: m.stats ? (stats.get(m.stats) ?? { count: 0, delays: [] }) : true });
});
