// (node) `switchyard merchants create`: a merchant and its API key, from the command line.
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../core/auth/api-keys.js';
import { insertMerchant } from '../../core/merchants/merchant-store.js';
import { help, parse, readConfig, usageError } from './args.js';
import { DB_NOTE, withDatabase } from './database.js';

const USAGE = `switchyard merchants create --name <name>

Creates a merchant and prints its id and API key. The key is shown only this once and
stored as a hash. ${DB_NOTE}`;

/** `merchants create --name <name>`: prints the new merchant's id and API key. */
export async function merchantsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(USAGE, args, { help: { type: 'boolean' }, name: { type: 'string' } });
  if (values.help) return help(USAGE);
  const [sub, extra] = positionals;
  if (sub !== 'create') usageError(USAGE, sub === undefined ? 'missing subcommand (create)' : `unknown subcommand ${sub}`);
  if (extra !== undefined) usageError(USAGE, `unexpected argument ${extra}`);
  const name = values.name?.trim();
  if (!name) usageError(USAGE, '--name is required');
  if (name.length > 200) usageError(USAGE, '--name is at most 200 characters');
  const apiKey = generateApiKey();
  const merchant = await withDatabase(readConfig(), async (sql) =>
    insertMerchant(sql, { name, apiKeyHash: await hashApiKey(apiKey), apiKeyPrefix: apiKeyPrefix(apiKey) }),
  );
  process.stdout.write(`id:      ${merchant.id}\nname:    ${merchant.name}\napiKey:  ${apiKey}\n(the API key is shown only this once)\n`);
}
