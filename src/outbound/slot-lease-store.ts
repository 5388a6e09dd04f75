// Leases of endpoint delivery slots shared by worker processes (sql/0030_endpoint_slot_leases.sql).
import type { Tx } from '../core/db/client.js';

/** What one process asks of one endpoint's lease: its attempts in flight and the slots it could use. */
export interface LeaseRequest {
  endpointId: string;
  inUse: number;
  wanted: number;
}

/** What the lease gives: the slots the process may use and how long the answer holds, ms. */
export interface LeaseGrant {
  endpointId: string;
  usable: number;
  validMs: number;
}

/**
 * Sets `holder`'s leases of the endpoints in `requests` in one statement (gw.lease_endpoint_slots: one round trip,
 * each endpoint under its advisory lock, expiring `ttlMs` after the database's now) and answers the grants.
 */
export async function leaseEndpointSlots(tx: Tx, holder: string, requests: readonly LeaseRequest[], ttlMs: number): Promise<LeaseGrant[]> {
  if (requests.length === 0) return [];
  const rows = await tx<{ endpoint_id: string; usable: number; valid_ms: number }[]>`
    select endpoint_id, usable, valid_ms
      from gw.lease_endpoint_slots(${holder}, ${requests.map((r) => r.endpointId)}::text[], ${requests.map((r) => r.inUse)}::int[],
                                   ${requests.map((r) => r.wanted)}::int[], ${ttlMs}::int)`;
  return rows.map((r) => ({ endpointId: r.endpoint_id, usable: r.usable, validMs: r.valid_ms }));
}

/** Drops every lease of `holder` (a process stopping), so its shares are free at once. */
export async function dropSlotLeases(tx: Tx, holder: string): Promise<void> {
  await tx`delete from gw.endpoint_slot_leases where holder = ${holder}`;
}
