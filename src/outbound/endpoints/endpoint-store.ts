import type { Tx } from '../../core/db/client.js';
import { newId } from '../../core/ids.js';
import type { StoredAuth, StoredHeader } from './receiver-options.js';

/** An endpoint row (without its secrets). */
export interface Endpoint {
  id: string;
  merchantId: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  status: 'enabled' | 'disabled' | 'deleted';
  rateLimitPerSecond: number | null;
  /** Deliveries in flight at once across every worker process, 1–64 (src/outbound/slot-leases.ts). */
  maxInFlight: number;
  /** Ordered delivery per payment ({@link setEndpointOrdered}). */
  ordered: boolean;
  /** Custom headers sent on every attempt (receiver-options.ts), secret values sealed. */
  headers: StoredHeader[];
  /** Auth to the receiver, secrets sealed; null: none. */
  auth: StoredAuth | null;
  /** Payload filter, a CEL expression over `type` and `data` (src/core/events/event-filter.ts); null: none. */
  filter: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface EndpointDbRow {
  id: string;
  merchant_id: string;
  url: string;
  description: string | null;
  event_types: string[] | null;
  status: Endpoint['status'];
  rate_limit_per_second: number | null;
  max_in_flight: number;
  ordered: boolean;
  headers: StoredHeader[];
  auth: StoredAuth | null;
  filter: string | null;
  created_at: Date;
  updated_at: Date;
}

const toEndpoint = (r: EndpointDbRow): Endpoint => ({
  id: r.id,
  merchantId: r.merchant_id,
  url: r.url,
  description: r.description,
  eventTypes: r.event_types,
  status: r.status,
  rateLimitPerSecond: r.rate_limit_per_second,
  maxInFlight: r.max_in_flight,
  ordered: r.ordered,
  headers: r.headers,
  auth: r.auth,
  filter: r.filter,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/**
 * Inserts an endpoint with its first secret (a SecretBox envelope); `ordered` ({@link setEndpointOrdered}) defaults
 * to false, `maxInFlight` to the column's default (8).
 */
export async function insertEndpoint(
  tx: Tx,
  input: {
    merchantId: string;
    url: string;
    description: string | null;
    eventTypes: string[] | null;
    rateLimitPerSecond: number | null;
    maxInFlight?: number;
    ordered?: boolean;
    secretEnvelope: string;
    headers?: StoredHeader[];
    auth?: StoredAuth | null;
    /** A filter that compiled (event-filter.ts `compileEventFilter`), or null. */
    filter?: string | null;
  },
): Promise<Endpoint> {
  const [row] = await tx<EndpointDbRow[]>`
    insert into gw.endpoints (id, merchant_id, url, description, event_types, rate_limit_per_second, max_in_flight, ordered, headers, auth,
                              filter)
    values (${newId('ep')}, ${input.merchantId}, ${input.url}, ${input.description},
            ${input.eventTypes}, ${input.rateLimitPerSecond}, ${input.maxInFlight ?? tx`default`}, ${input.ordered ?? false},
            ${tx.json(input.headers ?? [])}, ${input.auth ? tx.json(input.auth) : null}, ${input.filter ?? null})
    returning *`;
  await tx`insert into gw.endpoint_secrets (endpoint_id, ciphertext) values (${row!.id}, ${input.secretEnvelope})`;
  return toEndpoint(row!);
}

/** One of the merchant's endpoints that is not deleted, or undefined. */
export async function getEndpoint(tx: Tx, merchantId: string, id: string): Promise<Endpoint | undefined> {
  const [row] = await tx<EndpointDbRow[]>`
    select * from gw.endpoints where id = ${id} and merchant_id = ${merchantId} and status <> 'deleted'`;
  return row && toEndpoint(row);
}

/** The merchant's endpoints that are not deleted, newest first; `limit + 1` rows. */
export async function listEndpoints(tx: Tx, merchantId: string, limit: number, startingAfter?: string): Promise<Endpoint[]> {
  const rows = await tx<EndpointDbRow[]>`
    select * from gw.endpoints
     where merchant_id = ${merchantId} and status <> 'deleted'
       ${startingAfter ? tx`and id < ${startingAfter}` : tx``}
     order by id desc
     limit ${limit + 1}`;
  return rows.map(toEndpoint);
}

/** Marks an endpoint deleted (its messages and attempts stay readable) and fails its pending messages; false if none. */
export async function deleteEndpoint(tx: Tx, merchantId: string, id: string): Promise<boolean> {
  const rows = await tx`
    update gw.endpoints set status = 'deleted', updated_at = now()
     where id = ${id} and merchant_id = ${merchantId} and status <> 'deleted'
     returning id`;
  if (rows.length === 0) return false;
  await tx`update gw.messages set status = 'failed', next_attempt_at = null where endpoint_id = ${id} and status = 'pending'`;
  return true;
}

/** The envelopes of an endpoint's secrets that still sign at `now`, newest first. */
export async function activeSecretEnvelopes(tx: Tx, endpointId: string, now: Date): Promise<string[]> {
  const rows = await tx<{ ciphertext: string }[]>`
    select ciphertext from gw.endpoint_secrets
     where endpoint_id = ${endpointId} and (expires_at is null or expires_at > ${now})
     order by id desc`;
  return rows.map((r) => r.ciphertext);
}

/**
 * What `PATCH /v1/endpoints/{id}` may change: an absent key is kept, null clears (`eventTypes: null` = every type,
 * `rateLimitPerSecond: null` = unlimited, in deliveries per second); `ordered` as {@link setEndpointOrdered}.
 */
interface EndpointChanges {
  url?: string;
  description?: string | null;
  eventTypes?: string[] | null;
  status?: 'enabled' | 'disabled';
  rateLimitPerSecond?: number | null;
  /** Deliveries in flight at once, 1–64. */
  maxInFlight?: number;
  ordered?: boolean;
  /** Replaces every custom header ([] clears them); sealed already. */
  headers?: StoredHeader[];
  /** Replaces the auth (null: none); sealed already. */
  auth?: StoredAuth | null;
  /** Replaces the payload filter (null: none); compiled already. */
  filter?: string | null;
}

/**
 * As {@link getEndpoint}, locked `for update` until the caller's transaction ends, so a PATCH, a rotation or a
 * test send sees a status nobody else is changing.
 */
export async function lockEndpoint(tx: Tx, merchantId: string, id: string): Promise<Endpoint | undefined> {
  const [row] = await tx<EndpointDbRow[]>`
    select * from gw.endpoints
     where id = ${id} and merchant_id = ${merchantId} and status <> 'deleted'
       for update`;
  return row && toEndpoint(row);
}

/**
 * Applies `changes` to one of the merchant's endpoints that is not deleted and bumps `updated_at`; the endpoint as
 * it now is, or undefined. The URL must have passed `checkEndpointUrl`. Re-enabling does not clear the failure
 * state: the route calls {@link resetEndpointHealth} in the same transaction.
 */
export async function updateEndpoint(tx: Tx, merchantId: string, id: string, changes: EndpointChanges): Promise<Endpoint | undefined> {
  const columns: Record<string, unknown> = {};
  if (changes.url !== undefined) columns.url = changes.url;
  if (changes.description !== undefined) columns.description = changes.description;
  if (changes.eventTypes !== undefined) columns.event_types = changes.eventTypes;
  if (changes.status !== undefined) columns.status = changes.status;
  if (changes.rateLimitPerSecond !== undefined) columns.rate_limit_per_second = changes.rateLimitPerSecond;
  if (changes.maxInFlight !== undefined) columns.max_in_flight = changes.maxInFlight;
  if (changes.ordered !== undefined) columns.ordered = changes.ordered;
  if (changes.headers !== undefined) columns.headers = tx.json(changes.headers);
  if (changes.auth !== undefined) columns.auth = changes.auth === null ? null : tx.json(changes.auth);
  if (changes.filter !== undefined) columns.filter = changes.filter;
  // Delivery caches what it decrypted per version: a new one makes it decrypt again.
  const bump = changes.headers !== undefined || changes.auth !== undefined ? 1 : 0;
  // postgres.js builds `col = value, …` only from a helper placed right after `set`, not inside a fragment.
  const [row] =
    Object.keys(columns).length === 0
      ? await tx<EndpointDbRow[]>`
          update gw.endpoints
             set updated_at = now()
           where id = ${id} and merchant_id = ${merchantId} and status <> 'deleted'
           returning *`
      : await tx<EndpointDbRow[]>`
          update gw.endpoints
             set ${tx(columns)}, updated_at = now(), receiver_version = receiver_version + ${bump},
                 filter_version = filter_version + ${changes.filter === undefined ? 0 : 1}
           where id = ${id} and merchant_id = ${merchantId} and status <> 'deleted'
           returning *`;
  return row && toEndpoint(row);
}

/** Clears the delivery engine's failure state for an endpoint, so one re-enabled starts from a clean slate. */
export async function resetEndpointHealth(tx: Tx, endpointId: string): Promise<void> {
  await tx`
    update gw.endpoints
       set consecutive_failures = 0, failing_since = null, circuit_open_until = null,
           disabled_reason = null, updated_at = now()
     where id = ${endpointId}`;
}

/**
 * Stores a new signing secret as its SecretBox envelope (never in clear); it becomes the newest, the one
 * `GET /v1/endpoints/{id}/secret` shows. Called by `rotateEndpointSecret`, which locks the endpoint.
 */
export async function insertEndpointSecret(tx: Tx, endpointId: string, envelope: string, createdAt: Date): Promise<void> {
  await tx`
    insert into gw.endpoint_secrets (endpoint_id, ciphertext, created_at)
    values (${endpointId}, ${envelope}, ${createdAt})`;
}

/** Makes an endpoint's secrets that would sign past `expiresAt` expire then (earlier expiries stay); returns how many changed. */
export async function expireEndpointSecrets(tx: Tx, endpointId: string, expiresAt: Date): Promise<number> {
  const rows = await tx`
    update gw.endpoint_secrets
       set expires_at = ${expiresAt}
     where endpoint_id = ${endpointId}
       and (expires_at is null or expires_at > ${expiresAt})
     returning id`;
  return rows.length;
}

/**
 * Turns ordered delivery per payment on or off for an endpoint that is not deleted: when on, a payment's event
 * waits until its previous one to the endpoint is delivered or failed for good (for messages emitted while on;
 * turning it off releases them). Not scoped to a merchant; false when there is no such endpoint.
 */
export async function setEndpointOrdered(tx: Tx, endpointId: string, ordered: boolean): Promise<boolean> {
  const rows = await tx`
    update gw.endpoints set ordered = ${ordered}, updated_at = now()
     where id = ${endpointId} and status <> 'deleted'
     returning id`;
  return rows.length > 0;
}

/**
 * `{ publicKey }` (null when `v1a` signing is off) of an endpoint that is not deleted, its row locked `for update`
 * until the caller's transaction ends; undefined when there is no such endpoint.
 */
export async function lockEd25519PublicKey(tx: Tx, endpointId: string): Promise<{ publicKey: string | null } | undefined> {
  const [current] = await tx<{ ed25519_public_key: string | null }[]>`
    select ed25519_public_key from gw.endpoints where id = ${endpointId} and status <> 'deleted' for update`;
  return current && { publicKey: current.ed25519_public_key };
}

/** Stores an endpoint's Ed25519 key pair: the private key as its SecretBox envelope, the public key (`whpk_…`) in clear. */
export async function setEd25519KeyPair(tx: Tx, endpointId: string, privateEnvelope: string, publicKey: string): Promise<void> {
  await tx`
    update gw.endpoints
       set ed25519_private_envelope = ${privateEnvelope}, ed25519_public_key = ${publicKey}, updated_at = now()
     where id = ${endpointId}`;
}

/** Turns `v1a` signing off, dropping the key pair; true when it was on. Not scoped to a merchant: the route checks first. */
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
