// The delivery engine's state on an endpoint row: circuit, failure streak, rate window, disabling.
import type { Tx } from '../core/db/client.js';

/**
 * Claims the probe of an endpoint whose circuit cool-down has passed by pushing
 * `circuit_open_until` to `until`; false when another attempt claimed it first.
 */
export async function claimCircuitProbe(tx: Tx, endpointId: string, now: Date, until: Date): Promise<boolean> {
  const claimed = await tx`
    update gw.endpoints
       set circuit_open_until = ${until}
     where id = ${endpointId} and circuit_open_until <= ${now}
     returning id`;
  return claimed.length > 0;
}

/** Counts one delivery in the endpoint's rate window for `second` (a new second starts at 1); returns the count. */
export async function countRateWindowDelivery(tx: Tx, endpointId: string, second: Date): Promise<number> {
  const [w] = await tx<{ deliveries: number }[]>`
    insert into gw.endpoint_rate_windows as w (endpoint_id, window_start, deliveries)
    values (${endpointId}, ${second}, 1)
    on conflict (endpoint_id) do update
      set deliveries = case when w.window_start = excluded.window_start then w.deliveries + 1 else 1 end,
          window_start = excluded.window_start
    returning deliveries`;
  return w?.deliveries ?? 0;
}

/**
 * Closes the circuit and clears the failure streak, writing only when there is one (healthy endpoints are not a hot
 * row); true when the circuit was open (the endpoint recovered).
 */
export async function clearEndpointFailures(tx: Tx, endpointId: string): Promise<boolean> {
  const [row] = await tx<{ was_open: boolean }[]>`
    -- The statement's snapshot: the row before this update (no FOR UPDATE, which would read the updated version).
    with before as (select circuit_open_until from gw.endpoints where id = ${endpointId})
    update gw.endpoints
       set consecutive_failures = 0, failing_since = null, circuit_open_until = null
     where id = ${endpointId}
       and (consecutive_failures > 0 or failing_since is not null or circuit_open_until is not null)
     returning (select circuit_open_until is not null from before) as was_open`;
  return row?.was_open ?? false;
}

/**
 * Extends the failure streak by one failure at `at`; once it reaches `circuitFailures` the
 * circuit is open until `openUntil` at least. Returns when the streak began and whether this failure opened the
 * circuit (the streak reached `circuitFailures` just now), or undefined when there is no such endpoint.
 */
export async function countEndpointFailure(
  tx: Tx,
  endpointId: string,
  input: { at: Date; circuitFailures: number; openUntil: Date },
): Promise<{ failingSince: Date; opened: boolean } | undefined> {
  const [row] = await tx<{ failing_since: Date; consecutive_failures: number }[]>`
    update gw.endpoints
       set consecutive_failures = consecutive_failures + 1,
           failing_since = coalesce(failing_since, ${input.at}),
           circuit_open_until = case when consecutive_failures + 1 >= ${input.circuitFailures}
                                     then greatest(coalesce(circuit_open_until, ${input.at}), ${input.openUntil})
                                     else circuit_open_until end
     where id = ${endpointId}
     returning failing_since, consecutive_failures`;
  return row && { failingSince: row.failing_since, opened: row.consecutive_failures === input.circuitFailures };
}

/**
 * Disables an endpoint that is still enabled, with the reason; returns true when this
 * call disabled it (so the caller emits `endpoint.disabled` once).
 */
export async function disableEndpointFor(tx: Tx, endpointId: string, reason: string): Promise<boolean> {
  const rows = await tx`
    update gw.endpoints
       set status = 'disabled', disabled_reason = ${reason}, circuit_open_until = null, updated_at = now()
     where id = ${endpointId} and status = 'enabled'
     returning id`;
  return rows.length > 0;
}
