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

/** A merchant with the API key a request used: what `GET /v1/merchant` shows. Timestamps as Dates. */
interface MerchantWithKey extends Merchant {
  apiKey: { id: string; prefix: string; createdAt: Date };
}

/** Merchant `merchantId` with its API key `apiKeyId` (which must be that merchant's), or undefined when either is gone. */
export async function getMerchantWithKey(tx: Tx, merchantId: string, apiKeyId: string): Promise<MerchantWithKey | undefined> {
  const [row] = await tx<{ id: string; name: string; created_at: Date; key_id: string; prefix: string; key_created_at: Date }[]>`
    select m.id, m.name, m.created_at, k.id as key_id, k.prefix, k.created_at as key_created_at
      from gw.merchants m
      join gw.api_keys k on k.merchant_id = m.id
     where m.id = ${merchantId}
       and k.id = ${apiKeyId}`;
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    apiKey: { id: row.key_id, prefix: row.prefix, createdAt: row.key_created_at },
  };
}
