/**
 * Deliveries in flight per endpoint in this worker process. A delivery job takes a slot
 * before it sends and gives it back after; when an endpoint's `max_in_flight` slots are
 * all taken (it is slow or hangs), further jobs for it are put off instead of occupying
 * workers, so one bad endpoint cannot starve the others. The cap is per process: N worker
 * processes allow up to N × max_in_flight.
 */
export class EndpointSlots {
  private readonly inFlight = new Map<string, number>();

  /** Takes a slot for `endpointId` if fewer than `max` are taken; false otherwise. */
  tryAcquire(endpointId: string, max: number): boolean {
    const n = this.inFlight.get(endpointId) ?? 0;
    if (n >= max) return false;
    this.inFlight.set(endpointId, n + 1);
    return true;
  }

  /** Gives a slot back. */
  release(endpointId: string): void {
    const n = (this.inFlight.get(endpointId) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(endpointId);
    else this.inFlight.set(endpointId, n);
  }

  /** Slots taken for an endpoint now. */
  taken(endpointId: string): number {
    return this.inFlight.get(endpointId) ?? 0;
  }
}
