/**
 * Optional per-endpoint `v1a` (Ed25519) signing, Standard Webhooks' asymmetric scheme
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
 * "Asymmetric signatures"): every delivery to the endpoint also carries a `v1a,<base64>`
 * signature, which the merchant verifies with the endpoint's public key (`whpk_<base64>`).
 * The private key is stored sealed under the master key (sql/0012_endpoint_options.sql).
 */
import type { Tx } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets.js';
import { generateEd25519KeyPair } from '../sign.js';
import { lockEd25519PublicKey, setEd25519KeyPair } from './endpoint-store.js';

/**
 * Turns `v1a` signing on for an endpoint (any status but deleted) inside the caller's
 * transaction: a fresh Ed25519 key pair unless it already has one (idempotent: the key is
 * kept, so merchants need not re-fetch it). Not scoped to a merchant: the route checks that
 * the endpoint is the merchant's, holding its row lock, first.
 *
 * @returns The endpoint's public key (`whpk_<base64 of the raw 32 bytes>`), or undefined
 *   when there is no such endpoint.
 */
export async function enableEd25519Signing(tx: Tx, secretBox: SecretBox, endpointId: string): Promise<string | undefined> {
  const current = await lockEd25519PublicKey(tx, endpointId);
  if (!current) return undefined;
  if (current.publicKey) return current.publicKey;
  const pair = await generateEd25519KeyPair();
  const envelope = await secretBox.encrypt(pair.privateKey);
  await setEd25519KeyPair(tx, endpointId, envelope, pair.publicKey);
  return pair.publicKey;
}
