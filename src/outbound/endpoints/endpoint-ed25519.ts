/**
 * Optional per-endpoint `v1a` (Ed25519) signing, Standard Webhooks' asymmetric scheme
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
 * "Asymmetric signatures"): with it on, every delivery to the endpoint carries a
 * `v1a,<base64>` signature beside its `v1,` ones, which the merchant verifies with the
 * endpoint's public key (`whpk_<base64>`) instead of a shared secret. The private key is
 * stored sealed under the master key (sql/0012_endpoint_options.sql).
 *
 * Not scoped to a merchant: the routes (src/outbound/routes/endpoints.ts,
 * `POST`/`GET`/`DELETE /v1/endpoints/{id}/ed25519`) check that the endpoint is the
 * merchant's, holding its row lock, before calling these.
 */
import type { Tx } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets.js';
import { generateEd25519KeyPair } from '../sign.js';

/**
 * Turns `v1a` signing on for an endpoint (any status but deleted) inside the caller's
 * transaction: a fresh Ed25519 key pair unless it already has one (idempotent: the key is
 * kept, so merchants need not re-fetch it). Deliveries made from then on carry a `v1a`
 * signature.
 *
 * @returns The endpoint's public key (`whpk_<base64 of the raw 32 bytes>`), or undefined
 *   when there is no such endpoint.
 */
export async function enableEd25519Signing(tx: Tx, secretBox: SecretBox, endpointId: string): Promise<string | undefined> {
  const [current] = await tx<{ ed25519_public_key: string | null }[]>`
    select ed25519_public_key from gw.endpoints where id = ${endpointId} and status <> 'deleted' for update`;
  if (!current) return undefined;
  if (current.ed25519_public_key) return current.ed25519_public_key;
  const pair = await generateEd25519KeyPair();
  const envelope = await secretBox.encrypt(pair.privateKey);
  await tx`
    update gw.endpoints
       set ed25519_private_envelope = ${envelope}, ed25519_public_key = ${pair.publicKey}, updated_at = now()
     where id = ${endpointId}`;
  return pair.publicKey;
}

/** Turns `v1a` signing off (the key pair is dropped; turning it on again makes a new one). True when it was on. */
export async function disableEd25519Signing(tx: Tx, endpointId: string): Promise<boolean> {
  const rows = await tx`
    update gw.endpoints set ed25519_private_envelope = null, ed25519_public_key = null, updated_at = now()
     where id = ${endpointId} and ed25519_public_key is not null
     returning id`;
  return rows.length > 0;
}

/** The endpoint's `v1a` public key (`whpk_…`), or null when `v1a` signing is off or there is no such endpoint. */
export async function getEd25519PublicKey(tx: Tx, endpointId: string): Promise<string | null> {
  const [row] = await tx<{ ed25519_public_key: string | null }[]>`
    select ed25519_public_key from gw.endpoints where id = ${endpointId} and status <> 'deleted'`;
  return row?.ed25519_public_key ?? null;
}
