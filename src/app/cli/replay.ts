// (node) `switchyard replay`: a bulk replay (POST /v1/replays) from the command line, followed with a progress bar.
import type { Sql } from '../../core/db/client.js';
import { cancelReplay, startReplay } from '../../outbound/replay.js';
import { getReplay } from '../../outbound/replay-store.js';
import { die, help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';
import { findEndpoint, merchantExists } from './operator-store.js';
import { progressLine } from './progress.js';

const USAGE = `switchyard replay --since <ISO time> [--until <ISO time>] (--endpoint <ep_…> | --merchant <mch_…>)
                  [--status failed,pending] [--response 4xx,5xx,none] [--event-type <type>]…

Gives one more attempt to every message created in [since, until) to that endpoint (or to
any enabled endpoint of the merchant) whose status (default failed), last response class and
event type match, page by page in the worker, and shows its progress (a bar on a terminal)
until it completes. Ctrl-C cancels the replay (attempts already queued stay). Needs a
running worker. ${DB_NOTE}`;

/** How often the progress is read, ms. */
const POLL_MS = 250;

const list = <T extends string>(value: string | undefined, allowed: readonly T[], option: string): T[] | null => {
  if (value === undefined) return null;
  const items = value.split(',').map((s) => s.trim());
  for (const i of items)
    if (!(allowed as readonly string[]).includes(i)) usageError(USAGE, `--${option}: ${i} is not one of ${allowed.join(', ')}`);
  return [...new Set(items)] as T[];
};

const instant = (value: string, option: string): Date => {
  const d = new Date(value);
  if (!/[zZ]|[+-]\d\d:?\d\d$/.test(value) || Number.isNaN(d.getTime()))
    usageError(USAGE, `--${option}: ${value} is not an ISO 8601 time with an offset`);
  return d;
};

/** `replay --since … [--endpoint … | --merchant …]`: starts the replay, follows it to the end; exit 1 when refused or cancelled. */
export async function replayCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, {
    help: { type: 'boolean' },
    since: { type: 'string' },
    until: { type: 'string' },
    endpoint: { type: 'string' },
    merchant: { type: 'string' },
    status: { type: 'string' },
    response: { type: 'string' },
    'event-type': { type: 'string', multiple: true },
  });
  if (values.help) return help(USAGE);
  if (positionals.length > 0) usageError(USAGE, `unexpected argument ${positionals[0]}`);
  if (values.since === undefined) usageError(USAGE, 'missing --since');
  if ((values.endpoint === undefined) === (values.merchant === undefined)) usageError(USAGE, 'give one of --endpoint or --merchant');
  const now = new Date();
  const since = instant(values.since, 'since');
  const until = values.until === undefined ? now : instant(values.until, 'until');
  if (since >= until) usageError(USAGE, '--since must be before --until (and not in the future)');
  const statuses = list(values.status, ['failed', 'pending'] as const, 'status') ?? ['failed'];
  const responseClasses = list(values.response, ['4xx', '5xx', 'none'] as const, 'response');
  const eventTypes = values['event-type'] ?? null;

  await withDatabase(readConfig(), async (sql) => {
    let merchantId = values.merchant;
    if (values.endpoint !== undefined) {
      const ep = await findEndpoint(sql, values.endpoint);
      if (!ep) die(`no endpoint ${values.endpoint} (GET /v1/endpoints lists a merchant's)`);
      if (ep.status !== 'enabled')
        die(`endpoint ${values.endpoint} is disabled; enable it (PATCH /v1/endpoints/${values.endpoint} {"status":"enabled"}) first`);
      merchantId = ep.merchantId;
    } else if (!(await merchantExists(sql, merchantId!))) {
      die(`no merchant ${merchantId}`);
    }
    const replay = await sql.begin((tx) =>
      startReplay(
        tx,
        { merchantId: merchantId!, endpointId: values.endpoint ?? null, since, until, statuses, responseClasses, eventTypes },
        now,
      ),
    );
    process.stdout.write(`replay ${replay.id}: ${replay.total} message(s) match\n`);
    await follow(sql, replay.id);
  });
}

/** Polls the replay until it ends, drawing the bar on a terminal; Ctrl-C cancels it. */
async function follow(sql: Sql, id: string): Promise<void> {
  const tty = process.stdout.isTTY === true;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      let replay = (await getReplay(sql, null, id))!;
      if (interrupted && replay.status === 'running') replay = (await sql.begin((tx) => cancelReplay(tx, null, id, new Date())))!;
      if (tty) process.stdout.write(`\r${progressLine(replay)}`);
      if (replay.status !== 'running') {
        if (tty) process.stdout.write('\n');
        const summary = `replay ${replay.id} ${replay.status}: ${replay.done}/${replay.total} messages (${replay.queued} queued, ${replay.skipped} skipped)`;
        if (replay.status === 'cancelled') die(`${summary}; attempts already queued stay queued`);
        process.stdout.write(`${summary}\n`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}
