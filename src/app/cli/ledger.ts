// (node) `switchyard ledger check`: prove a merchant's ledger from its entries.
import { checkLedger } from '../../core/ledger/ledger-store.js';
import { ledgerCheckView } from '../../core/ledger/ledger-view.js';
import { die, help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';
import { merchantExists } from './operator-store.js';

const USAGE = `switchyard ledger check --merchant <mch_…>

Proves the merchant's ledger from its entries (debits equal credits per currency, every
transaction balances, every balance equals the sum of its entries) and prints the result
as JSON. Exit 0 when balanced, 1 when not. ${DB_NOTE}`;

/** `ledger check --merchant <mch_…>`: prints the check as JSON; exit 1 when unbalanced or the merchant is unknown. */
export async function ledgerCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, { help: { type: 'boolean' }, merchant: { type: 'string' } });
  if (values.help) return help(USAGE);
  const [sub, extra] = positionals;
  if (sub !== 'check') usageError(USAGE, sub === undefined ? 'missing subcommand (check)' : `unknown subcommand ${sub}`);
  if (extra !== undefined) usageError(USAGE, `unexpected argument ${extra}`);
  const merchantId = values.merchant;
  if (!merchantId) usageError(USAGE, '--merchant is required');
  const result = await withDatabase(readConfig(), async (sql) =>
    (await merchantExists(sql, merchantId)) ? checkLedger(sql, merchantId) : undefined,
  );
  if (!result) die(`no merchant ${merchantId} (merchant ids look like mch_…)`);
  const view = { merchant: merchantId, ...ledgerCheckView(result) };
  process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  if (!result.balanced) process.exitCode = 1;
}
