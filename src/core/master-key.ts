import type { Sql, Tx } from './db/client.js';
import {
  ENVELOPE_COLUMNS,
  anyStoredEnvelope,
  countStaleEnvelopes,
  countStaleReceiverEnvelopes,
  insertMasterKeyCheck,
  readMasterKeyCheck,
  replaceEnvelopes,
  replaceMasterKeyCheck,
  replaceReceiverEnvelopes,
  staleEnvelopeBatch,
  staleReceiverBatch,
} from './master-key-store.js';
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

/** Where {@link reencryptSecrets} is: envelopes re-sealed so far of those found stale at the start, and what it walks now. */
export interface ReencryptProgress {
  done: number;
  total: number;
  /** Envelopes left as they were: changed meanwhile by another process, or unreadable (see `unreadable`). */
  skipped: number;
  unreadable: number;
  /** The column (or `endpoint headers and auth`) of the last batch. */
  current: string;
}

/**
 * Re-seals every stored secret not sealed under `box`'s first key with it (README "Rotating the master key"), in
 * batches of `batchSize` rows, each batch its own transaction, so a run stopped at any point loses nothing and the next
 * run carries on with what is still stale. A row changed meanwhile is left (its new envelope is the writer's). A
 * secret no key opens is counted in `unreadable` and left. `onProgress` hears after each batch; `pauseMs` waits
 * between batches to spare a busy database. Throws the database's error.
 */
export async function reencryptSecrets(
  sql: Sql,
  box: SecretBox,
  options: { batchSize: number; pauseMs?: number; onProgress?: (p: ReencryptProgress) => void },
): Promise<ReencryptProgress> {
  const p: ReencryptProgress = { done: 0, total: 0, skipped: 0, unreadable: 0, current: '' };
  const check = await readMasterKeyCheck(sql);
  const checkStale = check !== undefined && !box.sealedWithCurrentKey(check);
  if (checkStale) p.total++;
  for (const c of ENVELOPE_COLUMNS) p.total += await countStaleEnvelopes(sql, c, box.keyId);
  p.total += await countStaleReceiverEnvelopes(sql, box.keyId);
  const reseal = async (envelope: string): Promise<string | undefined> => {
    if (box.sealedWithCurrentKey(envelope)) return envelope;
    try {
      return await box.encrypt(await box.decrypt(envelope));
    } catch (error) {
      if (error instanceof SecretUnreadableError) return undefined;
      throw error;
    }
  };
  const batchDone = async () => {
    options.onProgress?.({ ...p });
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  };

  if (checkStale) {
    p.current = 'master key check';
    const sealed = await reseal(check);
    if (sealed === undefined) p.unreadable++;
    else if (await replaceMasterKeyCheck(sql, check, sealed)) p.done++;
    else p.skipped++;
    await batchDone();
  }
  for (const c of ENVELOPE_COLUMNS) {
    p.current = c.label;
    let after = c.start;
    for (;;) {
      const rows = await staleEnvelopeBatch(sql, c, box.keyId, after, options.batchSize);
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const next: { id: string; previous: string; next: string }[] = [];
      for (const row of rows) {
        const sealed = await reseal(row.envelope);
        if (sealed === undefined) p.unreadable++;
        else next.push({ id: row.id, previous: row.envelope, next: sealed });
      }
      const replaced = await replaceEnvelopes(sql, c, next);
      p.done += replaced;
      p.skipped += next.length - replaced;
      await batchDone();
    }
  }

  p.current = 'endpoint headers and auth';
  let after = '';
  for (;;) {
    const rows = await staleReceiverBatch(sql, after, options.batchSize);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    await sql.begin(async (tx) => {
      for (const row of rows) {
        let stale = 0;
        let unreadable = 0;
        const swap = async (envelope: unknown) => {
          if (typeof envelope !== 'string' || box.sealedWithCurrentKey(envelope)) return envelope;
          stale++;
          const sealed = await reseal(envelope);
          if (sealed === undefined) unreadable++;
          return sealed ?? envelope;
        };
        const headers = await Promise.all(
          row.headers.map(async (h) =>
            h !== null && typeof h === 'object' && 'envelope' in h ? { ...h, envelope: await swap(h.envelope) } : h,
          ),
        );
        let auth = row.auth;
        if (auth !== null) {
          auth = { ...auth };
          for (const key of Object.keys(auth)) if (key.endsWith('Envelope')) auth[key] = await swap(auth[key]);
        }
        if (stale === 0) continue;
        p.unreadable += unreadable;
        if (stale === unreadable) continue;
        if (await replaceReceiverEnvelopes(tx, row.id, { headers: row.headers, auth: row.auth }, { headers, auth })) {
          p.done += stale - unreadable;
        } else {
          p.skipped += stale - unreadable;
        }
      }
    });
    await batchDone();
  }
  return p;
}
