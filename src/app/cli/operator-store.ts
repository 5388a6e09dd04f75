// The CLI's reads by bare id: an operator names an event or a merchant without the
// merchant scope every API read carries.
import type { Tx } from '../../core/db/client.js';

/** Event `id` (evt_…) with its type and merchant, whichever merchant it belongs to; undefined when there is none. */
export async function findEvent(tx: Tx, id: string): Promise<{ id: string; type: string; merchantId: string } | undefined> {
  const [event] = await tx<{ id: string; type: string; merchantId: string }[]>`
    select id, type, merchant_id as "merchantId"
      from gw.events
     where id = ${id}`;
  return event;
}

/** True when merchant `id` (mch_…) exists. */
export async function merchantExists(tx: Tx, id: string): Promise<boolean> {
  const [merchant] = await tx<{ id: string }[]>`
    select id
      from gw.merchants
     where id = ${id}`;
  return merchant !== undefined;
}

/** The merchant of endpoint `id` (ep_…) and its status, whichever merchant it belongs to; undefined when there is none or it is deleted. */
export async function findEndpoint(tx: Tx, id: string): Promise<{ merchantId: string; status: string } | undefined> {
  const [endpoint] = await tx<{ merchantId: string; status: string }[]>`
    select merchant_id as "merchantId", status
      from gw.endpoints
     where id = ${id} and status <> 'deleted'`;
  return endpoint;
}
