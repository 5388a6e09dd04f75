import type { Tx } from '../../core/db/client.js';

/** The PSP API columns of a source (sql/0011_payments_api.sql); the API key still sealed. */
interface SourceApiRow {
  id: string;
  merchantId: string;
  provider: string;
  apiKeyCiphertext: string | null;
  apiBaseUrl: string | null;
  pspMerchantAccount: string | null;
}

/** The merchant's source `sourceId` with its PSP API columns, or undefined (another merchant's too). */
export async function getSourceApiRow(tx: Tx, merchantId: string, sourceId: string): Promise<SourceApiRow | undefined> {
  const [row] = await tx<
    {
      id: string;
      merchant_id: string;
      provider: string;
      api_key_ciphertext: string | null;
      api_base_url: string | null;
      psp_merchant_account: string | null;
    }[]
  >`
    select id, merchant_id, provider, api_key_ciphertext, api_base_url, psp_merchant_account
      from gw.sources
     where id = ${sourceId} and merchant_id = ${merchantId}`;
  if (!row) return undefined;
  return {
    id: row.id,
    merchantId: row.merchant_id,
    provider: row.provider,
    apiKeyCiphertext: row.api_key_ciphertext,
    apiBaseUrl: row.api_base_url,
    pspMerchantAccount: row.psp_merchant_account,
  };
}

/** The provider (`stripe`, `adyen`, …) of the merchant's source `sourceId`, or undefined. */
export async function getSourceProvider(tx: Tx, merchantId: string, sourceId: string): Promise<string | undefined> {
  const [source] = await tx<{ provider: string }[]>`
    select provider from gw.sources where id = ${sourceId} and merchant_id = ${merchantId}`;
  return source?.provider;
}
