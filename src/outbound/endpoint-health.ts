import type { Tx } from '../core/db/client.js';

/** What {@link admitAttempt} needs of an endpoint: its id, circuit and rate limit. */
export interface EndpointGate {
  id: string;
  circuitOpenUntil: Date | null;
  /** Attempts per second allowed, or null for no limit. */
  rateLimitPerSecond: number | null;
}

/** The settings that govern health decisions (from Config). */
export interface HealthPolicy {
  /** Consecutive failed attempts that open the circuit. */
  circuitFailures: number;
  /** How long an open circuit waits before one probe, seconds. */
  circuitCooldownSeconds: number;
  /** Failing every attempt this long disables the endpoint, seconds (5 days by default). */
  disableAfterSeconds: number;
}

/**
 * Whether an attempt may go out now. `{ retryAt }` when the circuit is open (the time it
 * may probe again) or the endpoint's `rateLimitPerSecond` is used up this second (the next
 * second). When the circuit's cool-down has passed, exactly one caller claims the probe by
 * pushing `circuit_open_until` forward; the others wait for the probe's outcome.
 */
export async function admitAttempt(tx: Tx, ep: EndpointGate, now: Date, policy: HealthPolicy): Promise<'go' | { retryAt: Date }> {
  if (ep.circuitOpenUntil) {
    if (ep.circuitOpenUntil > now) return { retryAt: ep.circuitOpenUntil };
    const claimed = await tx`
      update gw.endpoints
         set circuit_open_until = ${new Date(now.getTime() + policy.circuitCooldownSeconds * 1000)}
       where id = ${ep.id} and circuit_open_until <= ${now}
       returning id`;
    if (claimed.length === 0) return { retryAt: new Date(now.getTime() + policy.circuitCooldownSeconds * 1000) };
  }
  if (ep.rateLimitPerSecond !== null) {
    const second = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const [w] = await tx<{ deliveries: number }[]>`
      insert into gw.endpoint_rate_windows as w (endpoint_id, window_start, deliveries)
      values (${ep.id}, ${second}, 1)
      on conflict (endpoint_id) do update
        set deliveries = case when w.window_start = excluded.window_start then w.deliveries + 1 else 1 end,
            window_start = excluded.window_start
      returning deliveries`;
    if ((w?.deliveries ?? 0) > ep.rateLimitPerSecond) return { retryAt: new Date(second.getTime() + 1000) };
  }
  return 'go';
}

/**
 * Records an attempt's outcome on the endpoint. A success closes the circuit and clears the
 * failure streak (writing only when there was one, so healthy endpoints are not a hot row).
 * A failure extends the streak, opens the circuit after `circuitFailures` in a row, and
 * answers 'disable' once the endpoint has failed every attempt for `disableAfterSeconds`
 * (CONTRACT.md: 5 days).
 */
export async function recordAttemptHealth(
  tx: Tx,
  endpointId: string,
  succeeded: boolean,
  at: Date,
  policy: HealthPolicy,
): Promise<'ok' | 'disable'> {
  if (succeeded) {
    await tx`
      update gw.endpoints
         set consecutive_failures = 0, failing_since = null, circuit_open_until = null
       where id = ${endpointId}
         and (consecutive_failures > 0 or failing_since is not null or circuit_open_until is not null)`;
    return 'ok';
  }
  const [row] = await tx<{ failing_since: Date; consecutive_failures: number }[]>`
    update gw.endpoints
       set consecutive_failures = consecutive_failures + 1,
           failing_since = coalesce(failing_since, ${at}),
           circuit_open_until = case when consecutive_failures + 1 >= ${policy.circuitFailures}
                                     then greatest(coalesce(circuit_open_until, ${at}), ${new Date(at.getTime() + policy.circuitCooldownSeconds * 1000)})
                                     else circuit_open_until end
     where id = ${endpointId}
     returning failing_since, consecutive_failures`;
  if (row && at.getTime() - row.failing_since.getTime() >= policy.disableAfterSeconds * 1000) return 'disable';
  return 'ok';
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
