import type { Tx } from '../src/core/db/client.js';
import { storeInboundEvents, type NewInboundEvent, type StoredInboundEvent } from '../src/inbound/inbound-event-store.js';

/** Stores one verified inbound event in `tx` and queues its processing: storeInboundEvents with a batch of one. */
export async function recordInboundEvent(tx: Tx, input: NewInboundEvent): Promise<StoredInboundEvent> {
  const [stored] = await storeInboundEvents(tx, [input]);
  return stored!;
}
