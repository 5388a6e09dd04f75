/**
 * Endpoint signing secrets: rotation with an overlap, encrypted at rest under the master
 * key (CONTRACT.md "Endpoints"). The SQL lives in endpoint-store.ts; this module decides
 * what a rotation does.
 */
import type { Tx } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets.js';
import { generateEndpointSecret } from '../sign.js';
import { expireEndpointSecrets, insertEndpointSecret, lockEndpoint } from './endpoint-store.js';

/**
 * How long a rotated-out secret keeps signing beside its successor, in **milliseconds**
 * (CONTRACT.md: 24 h), so a merchant can deploy the new secret without dropping a webhook.
 */
const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/**
 * Rotates one of the merchant's endpoint secrets inside the caller's transaction
 * (`POST /v1/endpoints/{id}/secret/rotate`, CONTRACT.md "Endpoints"): a fresh
 * `whsec_<base64 of 24 bytes>` secret, sealed with `secretBox`, becomes the newest, and
 * every secret still signing gets `expires_at = now + 24 h` unless it was already due to
 * expire sooner. Until then deliveries carry one `v1,` signature per secret, so receivers
 * holding either verify. The endpoint row is locked, so concurrent rotations queue up.
 *
 * @param input.now The rotation time (the deps clock); the overlap runs from it.
 * @returns The new secret in clear (to show the merchant once more, as creation does), or
 *   undefined when the merchant has no such endpoint (deleted endpoints included): a 404.
 *
 * @example
 * const secret = await sql.begin((tx) =>
 *   rotateEndpointSecret(tx, deps.secretBox, { merchantId, endpointId, now: deps.clock() }));
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
