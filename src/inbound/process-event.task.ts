// Applies one stored inbound event: payment state machine → audit rows → ledger →
// merchant-facing events and their deliveries → inbound event processed, in ONE
// transaction, so a crash anywhere replays the whole step and the unique keys make the
// replay a no-op.
import { Decimal } from 'decimal.js';
import type { Deps } from '../core/http/env.js';
import { journalFor } from '../core/ledger/journal.js';
import { postTransaction } from '../core/ledger/ledger-store.js';
import {
  insertTransitions,
  lockOrCreatePayment,
  paymentView,
  savePayment,
} from '../core/payments/payment-store.js';
import { applyPaymentEvent, emittedEventTypes } from '../core/payments/state-machine.js';
import { emitEvent } from '../outbound/messages.js';
import { normalizeInbound } from './normalize/index.js';

/** What processing did with an inbound event. */
export type ProcessOutcome =
  | { result: 'applied'; paymentId: string; steps: number; postings: number; events: number }
  | { result: 'stale'; paymentId: string }
  | { result: 'ignored' | 'failed'; reason: string }
  | { result: 'already_processed' };

/**
 * The `process_inbound_event` task. Locks the inbound event row; unless it was already
 * handled, normalizes its stored bytes, locks (or creates) the payment, applies the state
 * machine, appends the transitions, posts one ledger transaction per posting (unique per
 * payment, cause and kind), emits the merchant-facing events with one delivery job per
 * subscribed endpoint, and marks the inbound event `processed` (or `ignored` for a type
 * we do not map, `failed` for a body we cannot read). Throws only on infrastructure
 * errors, so graphile-worker retries the job.
 */
export async function processInboundEvent(deps: Deps, job: { inboundEventId: string }): Promise<ProcessOutcome> {
  const { sql, clock } = deps;
  return sql.begin(async (tx) => {
    const [iev] = await tx<{ id: string; status: string; raw_body: Uint8Array; merchant_id: string; source_id: string; provider: string }[]>`
      select i.id, i.status, i.raw_body, i.merchant_id, i.source_id, s.provider
        from gw.inbound_events i
        join gw.sources s on s.id = i.source_id
       where i.id = ${job.inboundEventId}
         for update of i`;
    if (!iev || iev.status !== 'received') return { result: 'already_processed' } as const;
    const now = clock();
    const finish = async (status: 'processed' | 'ignored' | 'failed', paymentId: string | null, error: string | null) => {
      await tx`
        update gw.inbound_events
           set status = ${status}, payment_id = ${paymentId}, error = ${error}, processed_at = ${now}
         where id = ${iev.id}`;
    };

    const normalized = normalizeInbound(iev.provider, iev.raw_body);
    if (normalized.kind !== 'event') {
      await finish(normalized.kind === 'ignored' ? 'ignored' : 'failed', null, normalized.reason);
      return { result: normalized.kind === 'ignored' ? 'ignored' : 'failed', reason: normalized.reason } as const;
    }
    const ev = normalized.event;
    const { payment, created } = await lockOrCreatePayment(tx, {
      merchantId: iev.merchant_id,
      sourceId: iev.source_id,
      pspReference: ev.pspReference,
      currency: ev.currency,
      amount: ev.amount ?? ev.capturedTotal ?? ev.refundedTotal ?? new Decimal(0),
      merchantReference: ev.merchantReference ?? null,
      now,
    });
    if (created) await insertTransitions(tx, payment.id, [{ from: null, to: 'pending' }], iev.id, now);
    if (payment.currency !== ev.currency) {
      const reason = `event currency ${ev.currency} differs from payment currency ${payment.currency}`;
      await finish('failed', payment.id, reason);
      return { result: 'failed', reason } as const;
    }

    const outcome = applyPaymentEvent(payment, ev);
    if (outcome.stale && !created) {
      await finish('processed', payment.id, null);
      return { result: 'stale', paymentId: payment.id } as const;
    }
    await insertTransitions(tx, payment.id, outcome.steps, iev.id, now);
    const saved = await savePayment(tx, payment, { ...outcome.state, merchantReference: ev.merchantReference ?? null }, now);
    const types = emittedEventTypes(outcome);
    for (const type of types) {
      await emitEvent(tx, {
        merchantId: iev.merchant_id,
        type,
        paymentId: saved.id,
        dedupeKey: `${iev.id}:${type}`,
        data: paymentView(saved),
        at: now,
      });
    }
    await finish('processed', payment.id, null);
    // Last, so the merchant's account rows (shared by all its payments in this currency)
    // stay locked only for the posting and the commit.
    for (const posting of outcome.postings) {
      await postTransaction(tx, {
        merchantId: iev.merchant_id,
        paymentId: payment.id,
        cause: iev.id,
        kind: posting.kind,
        entries: journalFor(posting, payment.currency),
      });
    }
    return { result: 'applied', paymentId: payment.id, steps: outcome.steps.length, postings: outcome.postings.length, events: types.length } as const;
  });
}
