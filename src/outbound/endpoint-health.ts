// Endpoint health: the circuit breaker, the rate limit and the failure streak that disables.
import type { Tx } from '../core/db/client.js';
import { claimCircuitProbe, clearEndpointFailures, countEndpointFailure, countRateWindowDelivery } from './endpoint-health-store.js';

/** What {@link admitAttempt} needs of an endpoint: its id, circuit and rate limit. */
interface EndpointGate {
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
 * `'go'`, or `{ retryAt }` while the circuit is open (when it may probe) or this second's `rateLimitPerSecond` is
 * used up (the next second). After the cool-down exactly one caller claims the probe; the others wait for it.
 */
export async function admitAttempt(tx: Tx, ep: EndpointGate, now: Date, policy: HealthPolicy): Promise<'go' | { retryAt: Date }> {
  if (ep.circuitOpenUntil) {
    if (ep.circuitOpenUntil > now) return { retryAt: ep.circuitOpenUntil };
    const claimed = await claimCircuitProbe(tx, ep.id, now, new Date(now.getTime() + policy.circuitCooldownSeconds * 1000));
    if (!claimed) return { retryAt: new Date(now.getTime() + policy.circuitCooldownSeconds * 1000) };
  }
  if (ep.rateLimitPerSecond !== null) {
    const second = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const deliveries = await countRateWindowDelivery(tx, ep.id, second);
    if (deliveries > ep.rateLimitPerSecond) return { retryAt: new Date(second.getTime() + 1000) };
  }
  return 'go';
}

/** What an attempt did to its endpoint's health (see {@link recordAttemptHealth}). */
export interface HealthChange {
  /** Every attempt has failed for `disableAfterSeconds`: disable the endpoint. */
  disable: boolean;
  /** This failure opened the circuit. */
  circuitOpened: boolean;
  /** This success closed an open circuit. */
  recovered: boolean;
}

/**
 * Records an attempt's outcome on the endpoint: a success closes the circuit and clears the failure streak; a
 * failure extends it, opens the circuit after `circuitFailures` in a row, and asks to disable once every
 * attempt has failed for `disableAfterSeconds`.
 */
export async function recordAttemptHealth(
  tx: Tx,
  endpointId: string,
  succeeded: boolean,
  at: Date,
  policy: HealthPolicy,
): Promise<HealthChange> {
  if (succeeded) {
    const recovered = await clearEndpointFailures(tx, endpointId);
    return { disable: false, circuitOpened: false, recovered };
  }
  const streak = await countEndpointFailure(tx, endpointId, {
    at,
    circuitFailures: policy.circuitFailures,
    openUntil: new Date(at.getTime() + policy.circuitCooldownSeconds * 1000),
  });
  const disable = streak !== undefined && at.getTime() - streak.failingSince.getTime() >= policy.disableAfterSeconds * 1000;
  return { disable, circuitOpened: streak?.opened ?? false, recovered: false };
}
