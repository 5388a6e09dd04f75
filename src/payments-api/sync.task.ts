/**
 * Status sync of PSP operations whose outcome is unknown (timeout, 5xx) or whose request
 * crashed before the PSP answered. The call is re-sent with the same PSP idempotency key, so
 * the PSP answers with its first result or acts once. Stripe replays a 5xx stored under the
 * key, so when the re-send is still unknown the PaymentIntent is fetched and its state
 * applied. Adyen has no GET for payments: its operations wait for the webhook or the next sync.
 */
import type { Deps } from '../core/deps.js';
import { callPsp, connectorOptions } from './call-psp.js';
import type { PaymentCommandOptions } from './commands.js';
import { settleOperation } from './settle-operation.js';
import { loadSourceCredentials } from './connectors/credentials.js';
import { connectorFor } from './connectors/index.js';
import { enqueueOperationSync } from '../core/jobs/enqueue.js';
import { getOperation, listStaleOperations, updateOperation } from '../core/payments/operation-store.js';
import type { PspResult } from './connectors/types.js';

/** What one sync did. */
type SyncOutcome = 'settled' | 'still_unknown' | 'nothing_to_do';

/**
 * The `sync_psp_operation` task: asks the PSP about one `requested` or `pending` operation
 * and settles it (see settleOperation). Returns `still_unknown` when the PSP still gives no
 * answer (the operation stays pending, its `sync_attempts` grows, and the cron picks it up
 * again); throws only on database errors.
 */
export async function syncPspOperation(deps: Deps, job: { operationId: string }, options: PaymentCommandOptions = {}): Promise<SyncOutcome> {
  const op = await getOperation(deps.sql, job.operationId);
  if (!op || (op.status !== 'requested' && op.status !== 'pending')) return 'nothing_to_do';
  let result = await callPsp(deps, op, options);
  let fetched = false;
  if (result.kind === 'unknown' && op.pspReference && !op.pspReference.startsWith('pending:')) {
    ({ result, fetched } = await fetchState(deps, op.merchantId, op.sourceId, op.pspReference, op.kind, options, result));
  }
  deps.logger.info({ operationId: op.id, kind: op.kind, result: result.kind }, 'psp status sync');
  return deps.sql.begin(async (tx) => {
    const locked = await getOperation(tx, op.id, true);
    if (!locked || (locked.status !== 'requested' && locked.status !== 'pending')) return 'nothing_to_do' as const;
    if (result.kind === 'unknown' && fetched && locked.syncAttempts + 1 >= MAX_UNRESOLVED_SYNCS) {
      // The PSP keeps replaying its 5xx for the key while its payment shows no effect of
      // the call: the operation did not happen. Failed, so the merchant can retry it under
      // a new Idempotency-Key (a new PSP key), rather than re-synced for ever.
      await settleOperation(
        deps,
        tx,
        locked,
        { kind: 'rejected', httpStatus: 0, code: 'psp_unresolved', message: `the PSP's payment showed no effect of this ${op.kind} after ${MAX_UNRESOLVED_SYNCS} status syncs` },
        options,
        true,
      );
      return 'settled' as const;
    }
    if (result.kind === 'unknown') {
      await updateOperation(tx, op.id, { status: 'pending', syncAttempted: true, now: deps.clock() });
      return 'still_unknown' as const;
    }
    await settleOperation(deps, tx, locked, result, options, true);
    return 'settled' as const;
  });
}

/**
 * Status syncs after which an operation that the PSP still answers with an unknown result
 * (a stored 5xx replayed for its key), while the PSP's payment shows no effect of it, is
 * failed with code `psp_unresolved`. With the cron's backoff (see listStaleOperations) the
 * eighth sync comes about two hours after the call.
 */
export const MAX_UNRESOLVED_SYNCS = 8;

/**
 * The PaymentIntent's state, when the connector can fetch it (Stripe), as the result of
 * `kind`: the operation succeeded when the payment shows its effect (captured for a
 * capture, voided for a void); otherwise the original unknown result is kept. `fetched`:
 * the PSP answered with the payment's state (so an unknown result means no effect yet).
 */
async function fetchState(
  deps: Deps,
  merchantId: string,
  sourceId: string,
  pspReference: string,
  kind: string,
  options: PaymentCommandOptions,
  unknown: PspResult,
): Promise<{ result: PspResult; fetched: boolean }> {
  const creds = await loadSourceCredentials(deps.sql, deps.secretBox, merchantId, sourceId);
  if (!creds.ok) return { result: unknown, fetched: false };
  const connector = connectorFor(creds.value, connectorOptions(deps, options));
  if (!connector.retrieve) return { result: unknown, fetched: false };
  const r = await connector.retrieve(pspReference);
  if (r.kind !== 'answered') return { result: unknown, fetched: false };
  const effect = r.event?.kind;
  const done =
    (kind === 'create' && effect !== undefined) ||
    (kind === 'capture' && (effect === 'captured' || effect === 'refunded')) ||
    (kind === 'void' && effect === 'voided');
  return { result: done ? r : unknown, fetched: true };
}

/** Default age after which an unresolved operation is synced by the cron, seconds. */
const DEFAULT_SYNC_AFTER_SECONDS = 60;

/**
 * The `sync_stale_psp_operations` cron task: queues a sync for every operation still
 * `requested` or `pending` and untouched for `syncAfterSeconds` (a crashed request, a PSP
 * that timed out). Returns how many it queued.
 */
export async function syncStalePspOperations(deps: Deps, syncAfterSeconds = DEFAULT_SYNC_AFTER_SECONDS): Promise<number> {
  const now = deps.clock();
  return deps.sql.begin(async (tx) => {
    const ids = await listStaleOperations(tx, now, syncAfterSeconds);
    for (const id of ids) await enqueueOperationSync(tx, id, now);
    return ids.length;
  });
}
