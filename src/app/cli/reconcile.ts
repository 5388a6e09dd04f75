// (node) `switchyard reconcile <file.csv> --source src_…`: upload a settlement report to a running gateway, follow it.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { die, help, parse, usageError } from './args.js';

const USAGE = `switchyard reconcile <file.csv> --source <src_…> [options]

Uploads a PSP settlement report (a Stripe itemized payout reconciliation or balance change
report, or an Adyen Settlement details report, as exported) to a running gateway, shows the
progress while it is matched (a bar on a terminal, plain lines otherwise), then prints the
counts and totals as JSON. The same file again shows the run it made the first time.
  --source <src_…>        the Stripe or Adyen source the report belongs to (required)
  --api-key <sk_…>        the merchant's API key (default: SWITCHYARD_API_KEY)
  --url <base>            gateway base URL (default http://127.0.0.1:3000)
  --interval-ms <ms>      how often to ask for progress (default 500)

Exit 0 when every line matched or was ignored (or already settled by an earlier report);
1 when anything is unmatched (amountMismatch, missingInLedger, missingInReport, invalid),
the run failed, or the gateway refused the upload; 2 for bad usage.`;

const options = z.object({
  source: z.string({ error: '--source is required' }).regex(/^src_\w+$/, '--source is a source id (src_…)'),
  'api-key': z.string({ error: '--api-key (or SWITCHYARD_API_KEY) is required' }).min(1, '--api-key is empty'),
  url: z.url({ protocol: /^https?$/, error: (i) => `--url ${String(i.input)} is not an http(s) URL` }),
  'interval-ms': z
    .string()
    .regex(/^\d+$/, '--interval-ms is a whole number of milliseconds')
    .transform(Number)
    .refine((n) => n >= 10 && n <= 60_000, '--interval-ms is between 10 and 60000'),
});

/** The run as `GET /v1/reconciliation/settlements/{id}` shows it (the fields this command reads). */
interface Run {
  id: string;
  status: 'processing' | 'completed' | 'failed';
  linesDone: number;
  counts: Record<string, number>;
  totals: unknown[];
  error: string | null;
}

/** Results that leave something for the merchant to resolve. */
const UNMATCHED = ['amountMismatch', 'missingInLedger', 'missingInReport', 'invalid'] as const;

/** A 30-cell progress bar: `[#########---------]  4,000 / 10,000 lines`. */
function bar(done: number, total: number): string {
  const cells = 30;
  const filled = total === 0 ? cells : Math.min(cells, Math.floor((done / total) * cells));
  return `[${'#'.repeat(filled)}${'-'.repeat(cells - filled)}] ${done.toLocaleString('en')} / ${total.toLocaleString('en')} lines`;
}

/**
 * `reconcile <file.csv> --source <src_…>`: streams the file to `POST /v1/reconciliation/settlements`, polls the run
 * until it is no longer `processing` (progress on stderr), prints `{id, status, counts, totals}` on stdout. Sets exit
 * code 1 when a line is unmatched or the run failed; dies (1) with the gateway's problem `detail` when it refuses the
 * upload; exits 2 on bad usage.
 */
export async function reconcileCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, {
    help: { type: 'boolean' },
    source: { type: 'string' },
    'api-key': { type: 'string' },
    url: { type: 'string', default: 'http://127.0.0.1:3000' },
    'interval-ms': { type: 'string', default: '500' },
  });
  if (values.help) return help(USAGE);
  const [file, extra] = positionals;
  if (file === undefined) usageError(USAGE, 'missing the report file');
  if (extra !== undefined) usageError(USAGE, `unexpected argument ${extra}`);
  const parsed = options.safeParse({ ...values, 'api-key': values['api-key'] ?? process.env.SWITCHYARD_API_KEY });
  if (!parsed.success) usageError(USAGE, parsed.error.issues[0]!.message);
  const o = parsed.data;
  const size = await stat(file).then(
    (s) => s.size,
    () => die(`cannot read ${file}`),
  );
  const base = o.url.replace(/\/$/, '');
  const auth = { authorization: `Bearer ${o['api-key']}` };
  const res = await fetch(`${base}/v1/reconciliation/settlements?sourceId=${encodeURIComponent(o.source)}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'text/csv', 'content-length': String(size) },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    duplex: 'half',
  } as RequestInit);
  const body = (await res.json().catch(() => ({}))) as { id?: string; detail?: string; code?: string };
  if (res.status !== 200 && res.status !== 202)
    die(`the gateway refused the report (${res.status} ${body.code ?? ''}): ${body.detail ?? ''}`);
  const id = body.id!;
  const tty = process.stderr.isTTY === true;
  let run: Run;
  let shown = '';
  for (;;) {
    const r = await fetch(`${base}/v1/reconciliation/settlements/${id}`, { headers: auth });
    if (r.status !== 200) die(`cannot read ${id}: ${r.status}`);
    run = (await r.json()) as Run;
    const total = run.counts.lines ?? 0;
    const done = run.status === 'processing' ? run.linesDone : total;
    // while processing, 0 lines means the job has not read the report yet: nothing to show
    if (`${done}/${total}` !== shown && (run.status !== 'processing' || total > 0)) {
      if (tty) process.stderr.write(`\r${id} ${bar(done, total)}`);
      else process.stderr.write(`${id} ${done}/${total} lines\n`);
      shown = `${done}/${total}`;
    }
    if (run.status !== 'processing') break;
    await sleep(o['interval-ms']);
  }
  if (tty) process.stderr.write('\n');
  process.stdout.write(
    `${JSON.stringify({ id: run.id, status: run.status, counts: run.counts, totals: run.totals, error: run.error }, null, 2)}\n`,
  );
  if (run.status !== 'completed' || UNMATCHED.some((k) => (run.counts[k] ?? 0) > 0)) process.exitCode = 1;
}
