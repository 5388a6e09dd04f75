/**
 * Status sync of PSP operations with an unknown outcome (timeout, 5xx, crashed request): the
 * call is re-sent under the same PSP idempotency key, so the PSP acts at most once. Stripe
 * replays a stored 5xx, so then the PaymentIntent is fetched; Adyen has no payment GET.
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
 * and settles it; `still_unknown` leaves it `pending` for the cron. Throws only database errors.
 */
export async function syncPspOperation(
  deps: Deps,
  job: { operationId: string },
  options: PaymentCommandOptions = {},
): Promise<SyncOutcome> {
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
      // The PSP keeps replaying its 5xx and its payment shows no effect: the call never
      // happened. Fail it so the merchant can retry under a new key instead of syncing for ever.
      await settleOperation(
        deps,
        tx,
        locked,
        {
          kind: 'rejected',
          httpStatus: 0,
          code: 'psp_unresolved',
          message: `the PSP's payment showed no effect of this ${op.kind} after ${MAX_UNRESOLVED_SYNCS} status syncs`,
        },
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
 * Syncs after which an operation still unknown while the PSP's payment shows no effect is
 * failed with `psp_unresolved` (about two hours after the call, with the cron's backoff).
 */
export const MAX_UNRESOLVED_SYNCS = 8;

/**
 * The fetched payment as the result of `kind` when it shows that operation's effect, else the
 * given `unknown`; `fetched` is true when the PSP answered with the payment's state.
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
 * The `sync_stale_psp_operations` cron task: queues a sync for each `requested`/`pending`
 * operation untouched for `syncAfterSeconds`; returns how many.
 */
export async function syncStalePspOperations(deps: Deps, syncAfterSeconds = DEFAULT_SYNC_AFTER_SECONDS): Promise<number> {
  const now = deps.clock();
  return deps.sql.begin(async (tx) => {
    const ids = await listStaleOperations(tx, now, syncAfterSeconds);
    for (const id of ids) await enqueueOperationSync(tx, id, now);
    return ids.length;
  });
}
