// (node) One delivery attempt: decrypt the endpoint's signing keys, sign, POST.
import type { Deps } from '../core/deps.js';
import type { CryptoKey } from '../core/crypto.js';
import { SecretUnreadableError } from '../core/secrets.js';
import type { DeliveryJob } from '../core/jobs/catalog.js';
import { classifyStatus, type ResponseClass } from './backoff.js';
import type { DeliveryRow } from './delivery-store.js';
import { dispatch, type DispatchOutcome } from './dispatcher.js';
import { receiverCredentials } from './receiver-credentials.js';
import { importEd25519PrivateKey, signMessage } from './sign.js';

/** Sent as `user-agent` on every delivery (docs/http-api.md "Outbound webhooks"). */
const USER_AGENT = 'Switchyard/0.1.0';
/** Response bytes read from an endpoint at most; the rest is discarded. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** An attempt to make: the job that asks for it and its message as loaded. */
export interface DeliveryItem {
  job: DeliveryJob;
  m: DeliveryRow;
}

/** What signs a delivery: the endpoint's `whsec_` secrets and, when it signs `v1a` too, its Ed25519 key. */
interface SigningKeys {
  secrets: string[];
  ed25519Keys: CryptoKey[];
}

/**
 * The signing keys of a loaded message's endpoint, decrypted and imported. Throws SecretUnreadableError, logged
 * with the endpoint, when the master key cannot open them, so the failed job's log says why.
 */
export async function decryptSecrets(deps: Deps, m: DeliveryRow): Promise<SigningKeys> {
  try {
    const [secrets, ed25519Keys] = await Promise.all([
      Promise.all(m.secret_envelopes.map((e) => deps.secretBox.decrypt(e))),
      m.ed25519_envelope ? deps.secretBox.decrypt(m.ed25519_envelope).then(async (k) => [await importEd25519PrivateKey(k)]) : [],
    ]);
    return { secrets, ed25519Keys };
  } catch (error) {
    if (error instanceof SecretUnreadableError) deps.logger.error({ err: error, endpointId: m.endpoint_id }, error.message);
    throw error;
  }
}

/** What one attempt got, and when it was made. */
export interface Sent {
  outcome: DispatchOutcome;
  verdict: ResponseClass;
  attemptedAt: Date;
}

/**
 * Signs (every active secret, the message id as `webhook-id`) and POSTs one attempt (docs/http-api.md "Outbound
 * webhooks"), and reports it to the metrics. `secrets`: the batch's keys, already being decrypted; by default
 * the message's own. Never throws for the endpoint's failures, only SecretUnreadableError for unopenable keys.
 */
export async function send(deps: Deps, m: DeliveryRow, now: Date, secrets?: Promise<SigningKeys>): Promise<Sent> {
  const { config } = deps;
  const attemptedAt = now;
  const signing = await (secrets ?? decryptSecrets(deps, m));
  const signed = await signMessage({
    msgId: m.id,
    timestamp: Math.floor(attemptedAt.getTime() / 1000),
    body: m.payload,
    secrets: signing.secrets,
    ed25519Keys: signing.ed25519Keys,
    // node:crypto's HMAC when the process lends it: no thread-pool job per signature
    ...(deps.hmac ? { hmacSha256: (key: Uint8Array, data: Uint8Array) => deps.hmac!.hmac('SHA-256', key, data) } : {}),
  });
  // Custom headers and auth: decrypted once per endpoint version; an OAuth2 token that cannot be had fails the attempt unsent.
  const credentials = receiverCredentials(deps);
  const extra = await credentials.headersFor(m);
  const outcome: DispatchOutcome = !extra.ok
    ? { kind: 'error', error: extra.error, durationMs: 0 }
    : await dispatch({
        url: m.url,
        headers: { ...extra.value, ...signed, 'content-type': 'application/json', 'user-agent': USER_AGENT },
        body: m.payload,
        timeoutMs: config.SWITCHYARD_DELIVERY_TIMEOUT_MS,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
      });
  if (outcome.kind === 'response' && outcome.status === 401 && m.auth?.type === 'oauth2_client_credentials') {
    credentials.dropToken(m.endpoint_id);
  }
  const verdict: ResponseClass = outcome.kind === 'response' ? classifyStatus(outcome.status) : 'retry';
  // Counted once sent, whatever happens to the bookkeeping: the endpoint saw it.
  deps.metrics?.delivery(outcome.kind === 'response' ? verdict : 'error', outcome.durationMs / 1000);
  return { outcome, verdict, attemptedAt };
}
