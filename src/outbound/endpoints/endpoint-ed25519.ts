// Optional per-endpoint `v1a` (Ed25519) signing, Standard Webhooks' asymmetric scheme; the private key is sealed
// under the master key. https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
import type { Tx } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets.js';
import { generateEd25519KeyPair } from '../sign.js';
import { lockEd25519PublicKey, setEd25519KeyPair } from './endpoint-store.js';

/**
 * Turns `v1a` signing on for an endpoint that is not deleted, in the caller's transaction: a fresh key pair unless
 * it has one (idempotent, so merchants need not re-fetch the key). Not scoped to a merchant: the route checks
 * the endpoint is the merchant's, under its row lock, first.
 *
 * @returns The public key (`whpk_<base64 of the raw 32 bytes>`), or undefined when there is no such endpoint.
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
