// The client's address without node:* imports, so the inbound route (Workers too) can use it.
import type { Context } from 'hono';

/**
 * The address of the client that sent `c`: with `header` set (behind a proxy, e.g. `x-forwarded-for`), the last
 * comma-separated entry of that header, the one the nearest proxy added (earlier entries are the client's to forge);
 * else Node's socket address (`c.env.incoming`, set by @hono/node-server), else Cloudflare's `cf-connecting-ip`;
 * `unknown` when none is there (as under `app.request`). At most 64 characters.
 */
export function clientAddress(c: Context, header: string | undefined): string {
  if (header !== undefined) {
    const entries = c.req.header(header)?.split(',');
    const last = entries?.[entries.length - 1]?.trim();
    if (last) return last.slice(0, 64);
  }
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const socket = env?.incoming?.socket?.remoteAddress;
  if (socket) return socket.slice(0, 64);
  return c.req.header('cf-connecting-ip')?.slice(0, 64) ?? 'unknown';
}
