import type { Tx } from '../../core/db/client.js';
import { rethrowSecretUnreadable, type SecretBox } from '../../core/secrets.js';
import { getSourceApiRow } from './source-store.js';

/** The PSPs the payments API has connectors for. */
const CONNECTOR_PROVIDERS = ['stripe', 'adyen'] as const;

/**
 * A source's PSP API credentials, decrypted (docs/http-api.md "Sources"). `apiKey.toJSON` redacts,
 * so a logged object cannot leak it; only PSP call headers `reveal()` it.
 */
export interface SourceCredentials {
  sourceId: string;
  merchantId: string;
  provider: string;
  apiKey: { reveal(): string; toJSON(): string };
  /** Override of the PSP's API base URL (a sandbox or a local stand-in), or null for the PSP's own. */
  apiBaseUrl: string | null;
  /** The PSP merchant account (Adyen `merchantAccount`), or null. */
  merchantAccount: string | null;
}

/** Why a source cannot be used by the payments API. */
export type CredentialsProblem = 'source_not_found' | 'no_api_key' | 'provider_not_supported';

/**
 * The merchant's source `sourceId` with its PSP API key decrypted, or why it cannot be used
 * (another merchant's source is `source_not_found`). Throws the 500 `secret_unreadable`
 * AppError when this process's master key cannot open the stored key.
 */
export async function loadSourceCredentials(
  tx: Tx,
  secretBox: SecretBox,
  merchantId: string,
  sourceId: string,
): Promise<{ ok: true; value: SourceCredentials } | { ok: false; error: CredentialsProblem }> {
  const row = await getSourceApiRow(tx, merchantId, sourceId);
  if (!row) return { ok: false, error: 'source_not_found' };
  if (!(CONNECTOR_PROVIDERS as readonly string[]).includes(row.provider)) return { ok: false, error: 'provider_not_supported' };
  if (!row.apiKeyCiphertext) return { ok: false, error: 'no_api_key' };
  const plain = await secretBox.decrypt(row.apiKeyCiphertext).catch(rethrowSecretUnreadable);
  return {
    ok: true,
    value: {
      sourceId: row.id,
      merchantId: row.merchantId,
      provider: row.provider,
      apiKey: { reveal: () => plain, toJSON: () => '[redacted]' },
      apiBaseUrl: row.apiBaseUrl,
      merchantAccount: row.pspMerchantAccount,
    },
  };
}
