// Endpoint signing secrets: what a rotation does (the SQL is in endpoint-store.ts).
import type { Tx } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets.js';
import { generateEndpointSecret } from '../sign.js';
import { expireEndpointSecrets, insertEndpointSecret, lockEndpoint } from './endpoint-store.js';

/** A rotated-out secret keeps signing beside its successor this long (24 h, in ms), while the merchant deploys the new one. */
const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/**
 * Rotates an endpoint's secret in the caller's transaction (`POST /v1/endpoints/{id}/secret/rotate`): a fresh
 * `whsec_` secret, sealed with `secretBox`, becomes the newest, and every secret still signing expires at
 * `now + 24 h` unless due sooner. The endpoint row is locked, so concurrent rotations queue up.
 *
 * @returns The new secret in clear, to show the merchant, or undefined when the merchant has no such endpoint
 *   (deleted included).
 */
export async function rotateEndpointSecret(
  tx: Tx,
  secretBox: SecretBox,
  input: { merchantId: string; endpointId: string; now: Date },
): Promise<string | undefined> {
  const endpoint = await lockEndpoint(tx, input.merchantId, input.endpointId);
  if (!endpoint) return undefined;
  const secret = generateEndpointSecret();
  await expireEndpointSecrets(tx, endpoint.id, new Date(input.now.getTime() + SECRET_OVERLAP_MS));
  await insertEndpointSecret(tx, endpoint.id, await secretBox.encrypt(secret), input.now);
  return secret;
}
