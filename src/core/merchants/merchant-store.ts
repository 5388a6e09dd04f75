import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';

/** A merchant row as the API shows it. */
interface Merchant {
  id: string;
  name: string;
  createdAt: Date;
}

/** Inserts a merchant and one API key (stored as its SHA-256 hash and a short prefix). */
export async function insertMerchant(tx: Tx, input: { name: string; apiKeyHash: string; apiKeyPrefix: string }): Promise<Merchant> {
  const id = newId('mch');
  const [row] = await tx<{ id: string; name: string; created_at: Date }[]>`
    insert into gw.merchants (id, name)
    values (${id}, ${input.name})
    returning id, name, created_at`;
  await tx`
    insert into gw.api_keys (id, merchant_id, key_hash, prefix)
    values (${newId('key')}, ${id}, ${input.apiKeyHash}, ${input.apiKeyPrefix})`;
  return { id: row!.id, name: row!.name, createdAt: row!.created_at };
}

/** The merchant whose unrevoked API key has this hash, or undefined. */
export async function findMerchantByKeyHash(tx: Tx, keyHash: string): Promise<{ id: string; name: string } | undefined> {
  const [row] = await tx<{ id: string; name: string }[]>`
    select m.id, m.name
      from gw.api_keys k
      join gw.merchants m on m.id = k.merchant_id
     where k.key_hash = ${keyHash}
       and k.revoked_at is null`;
  return row;
}
