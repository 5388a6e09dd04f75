// (node) `switchyard keys reencrypt`: re-seal every stored secret with the first key of SWITCHYARD_MASTER_KEY.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkMasterKey, reencryptSecrets, type ReencryptProgress } from '../../core/master-key.js';
import { createSecretBox } from '../../core/secrets.js';
import { die, help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';

const USAGE = `switchyard keys reencrypt [--batch-size <n>] [--pause-ms <ms>]

Re-seals every stored secret (source secrets and PSP API keys, endpoint signing secrets and
Ed25519 keys, secret custom headers and receiver auth, the master key check) with the first
key of SWITCHYARD_MASTER_KEY, opening each with whichever listed key sealed it. Works in
batches of --batch-size rows (500), each committed on its own, and prints a progress line per
batch; stopped at any point, run it again and it carries on with what is left. --pause-ms
waits between batches (0) to spare a busy database. Exit 1 when a secret no listed key opens
remains (it is left as it was). README "Rotating the master key" gives the whole rotation.
${DB_NOTE}`;

/** `keys reencrypt`: re-seals, printing one progress line per batch and a summary; exit 1 when unreadable secrets remain. */
export async function keysCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, {
    help: { type: 'boolean' },
    'batch-size': { type: 'string' },
    'pause-ms': { type: 'string' },
  });
  if (values.help) return help(USAGE);
  const [sub, extra] = positionals;
  if (sub !== 'reencrypt') usageError(USAGE, sub === undefined ? 'missing subcommand (reencrypt)' : `unknown subcommand ${sub}`);
  if (extra !== undefined) usageError(USAGE, `unexpected argument ${extra}`);
  const batchSize = Number(values['batch-size'] ?? 500);
  const pauseMs = Number(values['pause-ms'] ?? 0);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    usageError(USAGE, '--batch-size must be a whole number from 1 to 10000');
  if (!Number.isInteger(pauseMs) || pauseMs < 0 || pauseMs > 60_000) usageError(USAGE, '--pause-ms must be a whole number from 0 to 60000');

  const config = readConfig();
  const keyFile = path.join(config.SWITCHYARD_DATA_DIR, 'master.key');
  const keys = config.SWITCHYARD_MASTER_KEY ?? (await readFile(keyFile, 'utf8').catch(() => undefined));
  if (keys === undefined)
    die(`SWITCHYARD_MASTER_KEY is not set and there is no ${keyFile}: set it to the new key first, then the old ones`);
  let box: Awaited<ReturnType<typeof createSecretBox>>;
  try {
    box = await createSecretBox(keys);
  } catch (error) {
    die(error instanceof Error ? error.message : String(error));
  }
  const line = (p: ReencryptProgress) =>
    `re-sealed ${p.done}/${p.total} secrets with key ${box.keyId} (${p.current}${p.skipped ? `, ${p.skipped} changed meanwhile` : ''}${p.unreadable ? `, ${p.unreadable} unreadable` : ''})`;
  const result = await withDatabase(config, async (sql) => {
    // Refuses a key list none of whose keys opens this database's secrets, before anything is written.
    await checkMasterKey(sql, box, config.SWITCHYARD_MASTER_KEY ? undefined : keyFile);
    // On a terminal one line rewritten in place; piped, a line per batch.
    const onProgress = (p: ReencryptProgress) => process.stdout.write(process.stdout.isTTY ? `\r\x1b[K${line(p)}` : `${line(p)}\n`);
    return reencryptSecrets(sql, box, { batchSize, pauseMs, onProgress });
  });
  process.stdout.write(`${process.stdout.isTTY ? '\n' : ''}done: ${line({ ...result, current: 'all columns' })}\n`);
  if (result.unreadable > 0) {
    die(`${result.unreadable} secrets could not be opened with any key of SWITCHYARD_MASTER_KEY and were left as they were`);
  }
}
