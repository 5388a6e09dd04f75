// (node) `switchyard ledger check`: prove a merchant's ledger from its entries.
import { hashApiKey } from '../../core/auth/api-keys.js';
import { checkLedger } from '../../core/ledger/ledger-store.js';
import { ledgerCheckView } from '../../core/ledger/ledger-view.js';
import { findMerchantByKeyHash } from '../../core/merchants/merchant-store.js';
import { die, help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';
import { merchantExists } from './operator-store.js';

const USAGE = `switchyard ledger check (--merchant <mch_…> | --api-key <sk_…>)

Proves the merchant's ledger from its entries (debits equal credits per currency, every
transaction balances, every balance equals the sum of its entries) and prints the result
as JSON. Name the merchant by its id, or by one of its API keys (GET /v1/merchant shows
the id a key belongs to). Exit 0 when balanced, 1 when not. ${DB_NOTE}`;

/**
 * `ledger check --merchant <mch_…>` or `--api-key <sk_…>`: prints the check as JSON; exit 1 when unbalanced, the
 * merchant is unknown or the key is not a valid one; exit 2 when neither or both options are given.
 */
export async function ledgerCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, {
    help: { type: 'boolean' },
    merchant: { type: 'string' },
    'api-key': { type: 'string' },
  });
  if (values.help) return help(USAGE);
  const [sub, extra] = positionals;
  if (sub !== 'check') usageError(USAGE, sub === undefined ? 'missing subcommand (check)' : `unknown subcommand ${sub}`);
  if (extra !== undefined) usageError(USAGE, `unexpected argument ${extra}`);
  const apiKey = values['api-key'];
  if (values.merchant !== undefined && apiKey !== undefined) usageError(USAGE, 'give --merchant or --api-key, not both');
  if (!values.merchant && !apiKey) usageError(USAGE, '--merchant or --api-key is required');
  const outcome = await withDatabase(readConfig(), async (sql) => {
    const merchantId = apiKey ? (await findMerchantByKeyHash(sql, await hashApiKey(apiKey)))?.id : values.merchant!;
    if (!merchantId) return { error: 'no_key' as const };
    if (!(await merchantExists(sql, merchantId))) return { error: 'no_merchant' as const, merchantId };
    return { merchantId, result: await checkLedger(sql, merchantId) };
  });
  if ('error' in outcome) {
    if (outcome.error === 'no_key') die('that API key is not valid (unknown or revoked); merchant API keys look like sk_…');
    die(`no merchant ${outcome.merchantId} (merchant ids look like mch_…; GET /v1/merchant shows yours)`);
  }
  const view = { merchant: outcome.merchantId, ...ledgerCheckView(outcome.result) };
  process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  if (!outcome.result.balanced) process.exitCode = 1;
}
