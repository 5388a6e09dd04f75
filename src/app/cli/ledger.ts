// (node) `switchyard ledger check`: prove a merchant's ledger from its entries.
import { hashApiKey } from '../../core/auth/api-keys.js';
import { checkLedger } from '../../core/ledger/ledger-store.js';
import { ledgerCheckView } from '../../core/ledger/ledger-view.js';
import { findApiKeyByHash } from '../../core/auth/api-key-store.js';
import { allows } from '../../core/auth/permissions.js';
import { die, help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';
import { merchantExists } from './operator-store.js';

const USAGE = `switchyard ledger check (--merchant <mch_…> | --api-key <sk_…|rk_…>)

Proves the merchant's ledger from its entries (debits equal credits per currency, every
transaction balances, every balance equals the sum of its entries) and prints the result
as JSON. Name the merchant by its id, or by one of its API keys (GET /v1/merchant shows
the id a key belongs to): the key must be neither revoked nor expired, and a restricted
key (rk_…) needs ledger: read, as GET /v1/ledger/check does. Exit 0 when balanced, 1 when
not. ${DB_NOTE}`;

/**
 * `ledger check --merchant <mch_…>` or `--api-key <sk_…|rk_…>`: prints the check as JSON; exit 1 when unbalanced, the
 * merchant is unknown, or the key is unknown, revoked, expired or lacks `ledger:read` (README "API keys and
 * permissions"; one line naming which); exit 2 when neither or both options are given.
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
    let merchantId = values.merchant!;
    if (apiKey) {
      const key = apiKey.length <= 200 ? await findApiKeyByHash(sql, await hashApiKey(apiKey)) : undefined;
      if (!key || key.revokedAt !== null) return { error: 'no_key' as const };
      const now = new Date();
      if (key.expiresAt !== null && key.expiresAt <= now) return { error: 'expired' as const, prefix: key.prefix, at: key.expiresAt };
      if (!allows(key.permissions, 'ledger:read')) return { error: 'denied' as const, prefix: key.prefix };
      merchantId = key.merchantId;
    }
    if (!(await merchantExists(sql, merchantId))) return { error: 'no_merchant' as const, merchantId };
    return { merchantId, result: await checkLedger(sql, merchantId) };
  });
  if ('error' in outcome) {
    if (outcome.error === 'no_key') die('that API key is not valid (unknown or revoked); merchant API keys look like sk_… or rk_…');
    if (outcome.error === 'expired')
      die(`the API key ${outcome.prefix}… expired at ${outcome.at.toISOString()}; use the key it was rolled to`);
    if (outcome.error === 'denied')
      die(`the API key ${outcome.prefix}… lacks ledger:read (give it "ledger": "read", or use a full sk_ key)`);
    die(`no merchant ${outcome.merchantId} (merchant ids look like mch_…; GET /v1/merchant shows yours)`);
  }
  const view = { merchant: outcome.merchantId, ...ledgerCheckView(outcome.result) };
  process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  if (!outcome.result.balanced) process.exitCode = 1;
}
