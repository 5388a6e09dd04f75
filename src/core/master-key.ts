import type { Tx } from './db/client.js';
import { anyStoredEnvelope, insertMasterKeyCheck, readMasterKeyCheck } from './master-key-store.js';
import { SecretUnreadableError, type SecretBox } from './secrets.js';

/** The constant sealed in gw.master_key_check: opening that envelope must give it back. */
const MASTER_KEY_CHECK = 'switchyard master key check';

/**
 * Throws an Error (naming SWITCHYARD_MASTER_KEY, or `keyFile` if the key came from there) unless `box` opens the check
 * value in gw.master_key_check; without one, `box` must open any stored envelope, then seals the check value.
 */
export async function checkMasterKey(sql: Tx, box: SecretBox, keyFile: string | undefined): Promise<void> {
  const opens = async (envelope: string, expected?: string) => {
    try {
      const plain = await box.decrypt(envelope);
      return expected === undefined || plain === expected;
    } catch (error) {
      if (error instanceof SecretUnreadableError) return false;
      throw error;
    }
  };
  const refuse = () =>
    new Error(
      keyFile
        ? `the master key in ${keyFile} (used because SWITCHYARD_MASTER_KEY is unset) cannot open the secrets stored in this database: ` +
            `they were sealed under another key. Restore the ${keyFile} this database was used with, or set SWITCHYARD_MASTER_KEY to that key.`
        : 'SWITCHYARD_MASTER_KEY cannot open the secrets stored in this database: they were sealed under another master key. ' +
            'Set SWITCHYARD_MASTER_KEY to the key this database was used with.',
    );
  let check = await readMasterKeyCheck(sql);
  if (check === undefined) {
    const stored = await anyStoredEnvelope(sql);
    if (stored !== undefined && !(await opens(stored))) throw refuse();
    await insertMasterKeyCheck(sql, await box.encrypt(MASTER_KEY_CHECK));
    check = await readMasterKeyCheck(sql);
  }
  if (check === undefined || !(await opens(check, MASTER_KEY_CHECK))) throw refuse();
}
