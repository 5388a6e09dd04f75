import type { Tx } from '../../core/db/client.js';
import { newId } from '../../core/ids.js';

/** An endpoint row (without its secrets). */
export interface Endpoint {
  id: string;
  merchantId: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  status: 'enabled' | 'disabled' | 'deleted';
  rateLimitPerSecond: number | null;
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
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Inserts an endpoint with its first secret (already encrypted). */
export async function insertEndpoint(
  tx: Tx,
  input: { merchantId: string; url: string; description: string | null; eventTypes: string[] | null; rateLimitPerSecond: number | null; secretEnvelope: string },
): Promise<Endpoint> {
  const [row] = await tx<EndpointDbRow[]>`
    insert into gw.endpoints (id, merchant_id, url, description, event_types, rate_limit_per_second)
    values (${newId('ep')}, ${input.merchantId}, ${input.url}, ${input.description},
            ${input.eventTypes}, ${input.rateLimitPerSecond})
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

/**
 * Marks an endpoint deleted (its messages and attempts stay readable) and fails its
 * pending messages, so nothing is delivered to it again. Returns false if there was none.
 */
export async function deleteEndpoint(tx: Tx, merchantId: string, id: string): Promise<boolean> {
  const rows = await tx`
    update gw.endpoints set status = 'deleted', updated_at = now()
     where id = ${id} and merchant_id = ${merchantId} and status <> 'deleted'
     returning id`;
  if (rows.length === 0) return false;
  await tx`update gw.messages set status = 'failed', next_attempt_at = null where endpoint_id = ${id} and status = 'pending'`;
  return true;
}

/** Disables an endpoint (e.g. after a 410 Gone); its pending messages are left to fail on their next attempt. */
export async function disableEndpoint(tx: Tx, id: string): Promise<void> {
  await tx`update gw.endpoints set status = 'disabled', updated_at = now() where id = ${id} and status = 'enabled'`;
}

/** The envelopes of an endpoint's secrets that still sign at `now`, newest first. */
export async function activeSecretEnvelopes(tx: Tx, endpointId: string, now: Date): Promise<string[]> {
  const rows = await tx<{ ciphertext: string }[]>`
    select ciphertext from gw.endpoint_secrets
     where endpoint_id = ${endpointId} and (expires_at is null or expires_at > ${now})
     order by id desc`;
  return rows.map((r) => r.ciphertext);
}
