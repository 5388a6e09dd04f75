/**
 * Merchant payment commands (create, capture, void, refund) run under an idempotency key as
 * two atomic phases around one PSP call (Brandur Leach, "Implementing Stripe-like
 * Idempotency Keys in Postgres"):
 *
 *   started            → (tx) check the request against the payment/source, insert the PSP
 *                        operation with its PSP idempotency key   → operation_created
 *   operation_created  → PSP call (outside any transaction; carries the PSP key) →
 *                        (tx) apply the answer to the payment, settle the operation and
 *                        store the response                       → finished
 *
 * A crash after the PSP call and before the second commit leaves the key at
 * `operation_created`; the retry re-sends the call with the same PSP key, which the PSP
 * answers with its first result (Stripe, Adyen), so the PSP acts at most once.
 */
import { Decimal } from 'decimal.js';
import type { Tx } from '../core/db/client.js';
import type { ErrorCode } from '../core/errors.js';
import type { Deps } from '../core/deps.js';
import { problemBody } from '../core/http/problem.js';
import { sha256Hex } from '../core/crypto.js';
import {
  atomicPhase,
  claimIdempotencyKey,
  idempotentResponse,
  runPhases,
  type Claim,
  type PhaseOutcome,
} from './idempotency/idempotency.js';
import { toJsonAmount } from '../core/money.js';
import { applyPspEvent, hasPendingReference, pendingReference } from '../core/payments/operations.js';
import { getPayment, lockPayment, resolvePendingReference, type Payment } from '../core/payments/payment-store.js';
import { paymentView } from '../core/payments/payment-view.js';
import { loadSourceCredentials } from './connectors/credentials.js';
import { connectorFor, DEFAULT_PSP_TIMEOUT_MS } from './connectors/index.js';
import { URL_NOT_ALLOWED } from './connectors/http.js';
import {
  enqueueOperationSync,
  getOperation,
  inFlightRefundTotal,
  insertOperation,
  succeededRefundTotal,
  updateOperation,
  type OperationStatus,
  type PspOperation,
} from '../core/payments/operation-store.js';
import type { ConnectorOptions, CreatePaymentCall, PspResult } from './connectors/types.js';
import { OPERATION_METADATA_KEY } from '../core/payments/operation-ids.js';

/** Settings of the payments API; all have defaults. */
export interface PaymentCommandOptions {
  /** Timeout of one PSP call, ms (default 15 000). */
  pspTimeoutMs?: number;
  /** Age after which an idempotency key's lock is taken as abandoned, seconds (default 60). */
  lockTimeoutSeconds?: number;
  /** Delay before the first status sync of an operation whose outcome is unknown, seconds (default 30). */
  syncDelaySeconds?: number;
  /** The fetch connectors use (default: `deps.pspFetch`, else the global fetch). */
  fetch?: typeof fetch;
}

/** `POST /v1/payments` body (validated); amounts in minor units, currency ISO 4217 upper case. */
export interface CreatePaymentInput {
  amount: number;
  currency: string;
  sourceId: string;
  merchantReference: string;
  captureMethod: 'automatic' | 'manual';
  paymentMethod?: string | Record<string, unknown>;
  customer?: { reference?: string; email?: string; name?: string };
  metadata?: Record<string, string>;
}

/** One merchant command. */
export type PaymentCommand =
  | { kind: 'create'; input: CreatePaymentInput }
  | { kind: 'capture'; paymentId: string; amount?: number }
  | { kind: 'void'; paymentId: string }
  | { kind: 'refund'; paymentId: string; amount?: number };

/**
 * The idempotency key sent to the PSP for a merchant's key: lower-case hex SHA-256 of
 * merchant, key and the key row's id (64 characters: Adyen's maximum, within Stripe's 255).
 * Every re-run under the same key row sends the same PSP key, so the PSP deduplicates it
 * too; two merchants' equal keys never collide; and a key reused after its 24 h (a new key
 * row) is a new request at the PSP as well, not a clash with the PSP's own cache.
 */
export async function pspIdempotencyKey(merchantId: string, key: string, keyRowId: string): Promise<string> {
  return sha256Hex(`switchyard:${merchantId}:${key}:${keyRowId}`);
}

const problem = (code: ErrorCode, status: number, detail: string): PhaseOutcome => ({
  response: { status, body: problemBody(code, status, detail) },
});

/** The JSON answer of a command: the payment as GET returns it, and the operation. */
export function commandView(payment: Payment, op: PspOperation): Record<string, unknown> {
  return {
    ...paymentView(payment),
    operation: {
      id: op.id,
      kind: op.kind,
      status: op.status,
      amount: op.amount === null ? null : toJsonAmount(op.amount),
      failureCode: op.failureCode,
      failureMessage: op.failureMessage,
    },
  };
}

/**
 * Runs `command` for the merchant under `idempotencyKey` and returns the HTTP response:
 * a replay (`Idempotent-Replayed: true`), or the fresh result. Throws AppError 422
 * `idempotency_key_reused` / 409 `idempotency_key_in_progress` (not stored).
 */
export async function executePaymentCommand(
  deps: Deps,
  input: { merchantId: string; idempotencyKey: string; method: string; path: string; params: unknown; command: PaymentCommand },
  options: PaymentCommandOptions = {},
): Promise<Response> {
  const claim = await claimIdempotencyKey(
    deps,
    { merchantId: input.merchantId, key: input.idempotencyKey, method: input.method, path: input.path, params: input.params },
    { ...(options.lockTimeoutSeconds !== undefined ? { lockTimeoutSeconds: options.lockTimeoutSeconds } : {}) },
  );
  if (claim.kind === 'replay') return idempotentResponse(claim.response, true);
  const pspKey = await pspIdempotencyKey(input.merchantId, input.idempotencyKey, claim.key.id);
  const response = await runPhases(deps, claim, {
    started: () => atomicPhase(deps, claim, (tx) => startOperation(deps, tx, input.merchantId, input.command, pspKey)),
    operation_created: (key) => callAndSettle(deps, claim, key.operationId!, options),
  });
  return idempotentResponse(response, false);
}

/** Phase `started`: checks the command against the source or payment and inserts the operation. */
async function startOperation(deps: Deps, tx: Tx, merchantId: string, command: PaymentCommand, pspKey: string): Promise<PhaseOutcome> {
  const now = deps.clock();
  if (command.kind === 'create') {
    const { input } = command;
    const creds = await loadSourceCredentials(tx, deps.secretBox, merchantId, input.sourceId);
    if (!creds.ok) return credentialsProblem(creds.error);
    const op = await insertOperation(tx, {
      merchantId,
      sourceId: input.sourceId,
      paymentId: null,
      kind: 'create',
      amount: new Decimal(input.amount),
      currency: input.currency,
      pspIdempotencyKey: pspKey,
      pspReference: null,
      request: input as unknown as Record<string, unknown>,
      now,
    });
    return { next: 'operation_created', operationId: op.id };
  }

  const payment = await lockPayment(tx, merchantId, command.paymentId);
  if (!payment) return problem('not_found', 404, 'Payment was not found.');
  if (hasPendingReference(payment)) {
    return problem('invalid_payment_state', 409, 'The PSP has not confirmed this payment yet (its creation is being synced); retry later.');
  }
  const creds = await loadSourceCredentials(tx, deps.secretBox, merchantId, payment.sourceId);
  if (!creds.ok) return credentialsProblem(creds.error);

  let amount: Decimal | null = null;
  if (command.kind === 'capture') {
    if (payment.status !== 'authorized') {
      return problem('invalid_payment_state', 409, `Only an authorized payment can be captured; this one is ${payment.status}.`);
    }
    const capturable = payment.amount.minus(payment.capturedAmount);
    amount = command.amount === undefined ? capturable : new Decimal(command.amount);
    if (amount.lessThanOrEqualTo(0) || amount.greaterThan(capturable)) {
      return problem('amount_out_of_range', 422, `The amount to capture must be between 1 and ${capturable.toString()}.`);
    }
  } else if (command.kind === 'void') {
    if (payment.status !== 'authorized' || payment.capturedAmount.greaterThan(0)) {
      return problem('invalid_payment_state', 409, `Only an authorized, uncaptured payment can be voided; this one is ${payment.status}.`);
    }
  } else {
    if (payment.status !== 'captured' && payment.status !== 'partially_refunded') {
      return problem('invalid_payment_state', 409, `Only a captured payment can be refunded; this one is ${payment.status}.`);
    }
    const refundable = payment.capturedAmount.minus(payment.refundedAmount).minus(await inFlightRefundTotal(tx, payment.id));
    amount = command.amount === undefined ? refundable : new Decimal(command.amount);
    if (amount.lessThanOrEqualTo(0) || amount.greaterThan(refundable)) {
      return problem('amount_out_of_range', 422, `The amount to refund must be between 1 and ${refundable.toString()} (captured, less refunds made or in flight).`);
    }
  }
  const op = await insertOperation(tx, {
    merchantId,
    sourceId: payment.sourceId,
    paymentId: payment.id,
    kind: command.kind,
    amount,
    currency: payment.currency,
    pspIdempotencyKey: pspKey,
    pspReference: payment.pspReference,
    request: { paymentId: payment.id, ...(amount ? { amount: toJsonAmount(amount) } : {}) },
    now,
  });
  return { next: 'operation_created', operationId: op.id };
}

function credentialsProblem(error: 'source_not_found' | 'no_api_key' | 'provider_not_supported'): PhaseOutcome {
  if (error === 'source_not_found') return problem('source_not_found', 404, 'Source was not found.');
  if (error === 'no_api_key') return problem('psp_not_configured', 422, 'This source has no PSP apiKey; create a source with apiKey to use the payments API.');
  return problem('psp_not_configured', 422, 'The payments API has connectors for stripe and adyen sources only.');
}

/**
 * How the connectors call the PSP for these command options: `options.fetch`, else
 * `deps.pspFetch` (the SSRF-guarded fetch of the Node runtime), else the global fetch;
 * `http:` base URLs only with SWITCHYARD_ALLOW_PRIVATE_URLS.
 */
export function connectorOptions(deps: Deps, options: PaymentCommandOptions): ConnectorOptions {
  const f = options.fetch ?? deps.pspFetch;
  return {
    timeoutMs: options.pspTimeoutMs ?? DEFAULT_PSP_TIMEOUT_MS,
    allowHttp: deps.config.SWITCHYARD_ALLOW_PRIVATE_URLS,
    ...(f ? { fetch: f } : {}),
  };
}

/** Sends an operation's call to the PSP (the same call, with the same PSP key, on every re-run). */
export async function callPsp(deps: Deps, op: PspOperation, options: PaymentCommandOptions): Promise<PspResult> {
  const creds = await loadSourceCredentials(deps.sql, deps.secretBox, op.merchantId, op.sourceId);
  if (!creds.ok) return { kind: 'rejected', httpStatus: 0, code: creds.error, message: 'the source cannot be used any more' };
  const connector = connectorFor(creds.value, connectorOptions(deps, options));
  switch (op.kind) {
    case 'create': {
      const input = op.request as unknown as CreatePaymentInput;
      const call: CreatePaymentCall = {
        amount: new Decimal(input.amount),
        currency: input.currency,
        captureMethod: input.captureMethod,
        merchantReference: input.merchantReference,
        ...(input.paymentMethod !== undefined ? { paymentMethod: input.paymentMethod } : {}),
        ...(input.customer ? { customer: input.customer } : {}),
        // The operation's id rides along, so the PSP's webhooks name the payment even before
        // this call's answer is stored (a timeout): see claimPendingReferences.
        metadata: { ...input.metadata, [OPERATION_METADATA_KEY]: op.id },
      };
      return connector.createPayment(call, op.pspIdempotencyKey);
    }
    case 'capture':
      return connector.capture(op.pspReference!, op.amount, op.currency, op.pspIdempotencyKey);
    case 'void':
      return connector.cancel(op.pspReference!, op.pspIdempotencyKey);
    case 'refund':
      return connector.refund(op.pspReference!, op.amount!, op.currency, op.pspIdempotencyKey);
  }
}

/** Phase `operation_created`: the PSP call, then one transaction applying its answer. */
async function callAndSettle(
  deps: Deps,
  claim: Extract<Claim, { kind: 'run' }>,
  operationId: string,
  options: PaymentCommandOptions,
): Promise<PhaseOutcome> {
  const op = await getOperation(deps.sql, operationId);
  if (!op) throw new Error(`operation ${operationId} of an idempotency key is missing`);
  const result = op.status === 'requested' ? await callPsp(deps, op, options) : undefined;
  if (result) {
    deps.logger.info(
      { operationId: op.id, kind: op.kind, sourceId: op.sourceId, result: result.kind, ...(result.kind === 'answered' ? { outcome: result.outcome } : {}) },
      'psp call',
    );
  }
  return atomicPhase(deps, claim, async (tx) => {
    const locked = (await getOperation(tx, operationId, true))!;
    // Settled meanwhile by the status sync (succeeded, submitted, failed): answer with what it found.
    const open = locked.status === 'requested' || locked.status === 'pending';
    const settled = result && open ? await settleOperation(deps, tx, locked, result, options) : await currentState(tx, locked);
    if (settled.kind === 'rejected') {
      // Never sent (the guard refused the source's apiBaseUrl): not a PSP failure.
      if (settled.code === URL_NOT_ALLOWED) {
        return problem('url_not_allowed', 422, `Nothing was sent to the PSP: ${settled.message}.`);
      }
      return problem('psp_request_rejected', 502, `The PSP refused the request: ${settled.message}`);
    }
    const status = settled.op.status === 'pending' ? 202 : op.kind === 'create' ? 201 : 200;
    return { response: { status, body: commandView(settled.payment, settled.op) } };
  });
}

async function currentState(tx: Tx, op: PspOperation): Promise<Settled> {
  const payment = op.paymentId ? await getPayment(tx, op.merchantId, op.paymentId) : undefined;
  if (!payment) return { kind: 'rejected', code: op.failureCode ?? 'failed', message: op.failureMessage ?? 'the operation failed' };
  return { kind: 'settled', payment, op };
}

/**
 * What settling an operation produced: the payment and the operation as saved, or a refusal
 * (`code` is the PSP's, or `url_not_allowed` when the call was never sent).
 */
export type Settled = { kind: 'settled'; payment: Payment; op: PspOperation } | { kind: 'rejected'; code: string; message: string };

/**
 * Applies a PSP result to an operation (locked by the caller) and its payment, in `tx`:
 * - `unknown`: the operation becomes `pending` (a create gets a payment with a provisional
 *   reference, status `pending`) and a status sync is queued; never a failure;
 * - `rejected`: the operation `failed`; a payment created while pending is failed too;
 * - `answered`: the answer's event is applied to the payment by (source, PSP reference), as a
 *   webhook would be (a refund's event carries the cumulative total of succeeded refunds),
 *   and the operation takes the answer's outcome.
 */
export async function settleOperation(
  deps: Deps,
  tx: Tx,
  op: PspOperation,
  result: PspResult,
  options: PaymentCommandOptions,
  sync = false,
): Promise<Settled> {
  const now = deps.clock();
  const createInput = op.kind === 'create' ? (op.request as unknown as CreatePaymentInput) : undefined;
  const existing = op.paymentId ? await getPayment(tx, op.merchantId, op.paymentId) : undefined;
  const base = {
    merchantId: op.merchantId,
    sourceId: op.sourceId,
    currency: op.currency,
    amount: existing?.amount ?? op.amount ?? new Decimal(0),
    merchantReference: createInput?.merchantReference ?? existing?.merchantReference ?? null,
    cause: op.id,
    now,
  };
  const reload = async (status: OperationStatus, paymentId: string | null) => {
    const fresh = (await getOperation(tx, op.id))!;
    return { ...fresh, status, paymentId };
  };

  if (result.kind === 'unknown') {
    let payment = existing;
    if (!payment) payment = await applyPspEvent(tx, { ...base, pspReference: pendingReference(op.id), event: null });
    await updateOperation(tx, op.id, { status: 'pending', paymentId: payment.id, syncAttempted: sync, now });
    if (!sync) await enqueueOperationSync(tx, op.id, new Date(now.getTime() + (options.syncDelaySeconds ?? 30) * 1000));
    return { kind: 'settled', payment, op: await reload('pending', payment.id) };
  }

  if (result.kind === 'rejected') {
    await updateOperation(tx, op.id, { status: 'failed', failure: { code: result.code, message: result.message }, now });
    if (existing && op.kind === 'create' && hasPendingReference(existing)) {
      await applyPspEvent(tx, { ...base, pspReference: existing.pspReference, event: { kind: 'failed' } });
    }
    return { kind: 'rejected', code: result.code, message: result.message };
  }

  const pspReference = result.pspReference || existing?.pspReference || pendingReference(op.id);
  if (existing && hasPendingReference(existing) && !pspReference.startsWith('pending:')) {
    await resolvePendingReference(tx, existing.id, pspReference);
  }
  // Claim the reference before the payment row is created, so the 0011 trigger lets it in.
  await updateOperation(tx, op.id, {
    status: result.outcome,
    pspReference,
    operationReference: result.operationReference ?? null,
    failure: result.failure ?? null,
    now,
  });
  let event = result.event ?? null;
  if (op.kind === 'refund' && result.outcome === 'succeeded' && existing) {
    event = { kind: 'refunded', capturedTotal: existing.capturedAmount, refundedTotal: await succeededRefundTotal(tx, existing.id) };
  }
  const payment = await applyPspEvent(tx, { ...base, pspReference, event });
  await updateOperation(tx, op.id, { status: result.outcome, paymentId: payment.id, now });
  return { kind: 'settled', payment, op: await reload(result.outcome, payment.id) };
}
