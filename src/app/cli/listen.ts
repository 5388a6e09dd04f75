// (node) `switchyard listen`: a local endpoint that prints each delivery it receives.
import { createServer } from 'node:http';
import { verifyStandardWebhooks } from '../../inbound/verifiers/standard-webhooks.js';
import { die, help, parse, usageError } from './args.js';

const USAGE = `switchyard listen [--port 4000] [--secret whsec_…]

A local endpoint on 127.0.0.1 that prints each delivery and, with --secret, verifies its
Standard Webhooks signature.`;

/** `listen`: answers every request 200 and prints it, with the signature verdict when `--secret` is given; runs until killed. */
export async function listenCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, {
    help: { type: 'boolean' },
    port: { type: 'string', default: '4000' },
    secret: { type: 'string' },
  });
  if (values.help) return help(USAGE);
  if (positionals.length > 0) usageError(USAGE, `unexpected argument ${positionals[0]}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError(USAGE, '--port is a TCP port number');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verdict = 'signature not checked (pass --secret)';
      if (values.secret) {
        const r = await verifyStandardWebhooks({ body, headers, secrets: [values.secret], toleranceSeconds: 300, now: new Date() });
        verdict = r.ok ? 'signature verified' : `signature REJECTED: ${r.error.detail}`;
      }
      process.stdout.write(
        `${new Date().toISOString()} ${req.method} ${req.url} webhook-id=${headers['webhook-id']} — ${verdict}\n${Buffer.from(body).toString('utf8')}\n\n`,
      );
      res.writeHead(200).end();
    });
  });
  server.once('error', (error) => die(`cannot listen on 127.0.0.1:${port}: ${error.message}`));
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(
      `listening on http://127.0.0.1:${values.port}/ — register it as an endpoint (the gateway needs SWITCHYARD_ALLOW_PRIVATE_URLS=true)\n`,
    );
  });
}
