import type { Tx } from './db/client.js';

/** The sealed check value of gw.master_key_check (sql/0015), or undefined when there is none yet. */
export async function readMasterKeyCheck(tx: Tx): Promise<string | undefined> {
  const [row] = await tx<{ envelope: string }[]>`select envelope from gw.master_key_check`;
  return row?.envelope;
}

/** Stores `envelope` as the check value unless one is there (of processes starting at once, the first wins). */
export async function insertMasterKeyCheck(tx: Tx, envelope: string): Promise<void> {
  await tx`insert into gw.master_key_check (envelope) values (${envelope}) on conflict do nothing`;
}

/** Any one envelope sealed under the master key (source secrets, PSP API keys, endpoint secrets, Ed25519 keys), or undefined. */
export async function anyStoredEnvelope(tx: Tx): Promise<string | undefined> {
  const [row] = await tx<{ envelope: string }[]>`
    (select ciphertext as envelope from gw.source_secrets order by id limit 1)
    union all
    (select api_key_ciphertext from gw.sources where api_key_ciphertext is not null limit 1)
    union all
    (select ciphertext from gw.endpoint_secrets order by id limit 1)
    union all
    (select ed25519_private_envelope from gw.endpoints where ed25519_private_envelope is not null limit 1)
    limit 1`;
  return row?.envelope;
}
