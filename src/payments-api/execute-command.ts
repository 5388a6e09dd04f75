/**
 * A merchant payment command (create, capture, void, refund) runs under an idempotency key as
 * two atomic phases around one PSP call (Brandur Leach, "Implementing Stripe-like
 * Idempotency Keys in Postgres", brandur.org/idempotency-keys):
 *
 *   started            → (tx) check the command against the payment/source, insert the PSP
 *                        operation with its PSP idempotency key   → operation_created
 *   operation_created  → PSP call (outside any transaction; carries the PSP key) →
 *                        (tx) settle the operation and store the response → finished
 *
 * A crash between the PSP call and the second commit leaves `operation_created`; the retry
 * re-sends under the same PSP key, so the PSP acts at most once.
 */
import { Decimal } from 'decimal.js';
import type { Tx } from '../core/db/client.js';
import type { ErrorCode } from '../core/errors.js';
import type { Deps } from '../core/deps.js';
import { problemBody } from '../core/http/problem.js';
import { sha256Hex } from '../core/crypto.js';
import { toJsonAmount } from '../core/money.js';
import { hasPendingReference } from '../core/payments/operations.js';
import { getPayment, lockPayment } from '../core/payments/payment-store.js';
import { assessPayments, riskRulesOf } from '../core/risk/assess.js';
import { closeReview, getReview, latestReviewOf, reviewView, type Compensation } from '../core/risk/review-store.js';
import { emitEvent } from '../core/events/outbox.js';
import { addToBlockLists } from '../core/risk/list-store.js';
import type { RuleRef } from '../core/risk/risk-store.js';
import { apiRiskSubject } from './risk-facts.js';
import { getOperation, inFlightRefundTotal, insertOperation, newOperationId, type PspOperation } from '../core/payments/operation-store.js';
import {
  atomicPhase,
  claimIdempotencyKey,
  idempotentResponse,
  runPhases,
  type Claim,
  type PhaseOutcome,
} from './idempotency/idempotency.js';
import { callPsp } from './call-psp.js';
import { commandView } from './command-view.js';
import type { PaymentCommand, PaymentCommandOptions } from './commands.js';
import { loadSourceCredentials, type CredentialsProblem } from './connectors/credentials.js';
import { URL_NOT_ALLOWED } from './connectors/http.js';
import { settleOperation, type Settled } from './settle-operation.js';

/**
 * The PSP idempotency key for a merchant's key: hex SHA-256 of merchant, key and key row id
 * (64 characters, Adyen's maximum). Stable across re-runs; distinct across merchants and
 * across a key's reuse after expiry (a new row).
 */
async function pspIdempotencyKey(merchantId: string, key: string, keyRowId: string): Promise<string> {
  return sha256Hex(`switchyard:${merchantId}:${key}:${keyRowId}`);
}

/** A problem answered after work started (the PSP was called): stored under the key and replayed. */
const problem = (code: ErrorCode, status: number, detail: string): PhaseOutcome => ({
  response: { status, body: problemBody(code, status, detail) },
});

/** A problem answered before any work started (nothing inserted, no PSP call): not stored, the key is freed. */
const refusal = (code: ErrorCode, status: number, detail: string): PhaseOutcome => ({
  refusal: { status, body: problemBody(code, status, detail) },
});

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
    operation_created: (key) => callAndSettle(deps, claim, key.operationId!, options, input.command),
  });
  return idempotentResponse(response, false);
}

/**
 * Phase `started`: checks the command against the source or payment and inserts the operation. Its refusals
 * (404, 409 `invalid_payment_state`, 422 `amount_out_of_range` / `psp_not_configured`) come before any work, so
 * they are not stored under the Idempotency-Key.
 */
async function startOperation(deps: Deps, tx: Tx, merchantId: string, command: PaymentCommand, pspKey: string): Promise<PhaseOutcome> {
  const now = deps.clock();
  if (command.kind === 'create') {
    const { input } = command;
    const creds = await loadSourceCredentials(tx, deps.secretBox, merchantId, input.sourceId);
    if (!creds.ok) return credentialsProblem(creds.error);
    // the rules run before anything is sent to the PSP; a block is stored under the Idempotency-Key and replayed
    const operationId = newOperationId(now);
    const [decision] = await assessPayments(
      tx,
      riskRulesOf(deps),
      [apiRiskSubject(merchantId, operationId, creds.value.provider, input)],
      now,
    );
    if (decision?.action === 'block') return blocked(decision.decidedBy!);
    const op = await insertOperation(tx, {
      id: operationId,
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

  if (command.kind === 'review') return startReviewDecision(deps, tx, merchantId, command, pspKey);
  const payment = await lockPayment(tx, merchantId, command.paymentId);
  if (!payment) return refusal('not_found', 404, 'Payment was not found.');
  if (hasPendingReference(payment)) {
    return refusal('invalid_payment_state', 409, 'The PSP has not confirmed this payment yet (its creation is being synced); retry later.');
  }
  const creds = await loadSourceCredentials(tx, deps.secretBox, merchantId, payment.sourceId);
  if (!creds.ok) return credentialsProblem(creds.error);

  let amount: Decimal | null = null;
  if (command.kind === 'capture') {
    if ((await latestReviewOf(tx, payment.id))?.status === 'open') {
      return refusal(
        'payment_in_review',
        409,
        'A risk review of this payment is open: approve it (POST /v1/reviews/{id}/approve) before capturing.',
      );
    }
    if (payment.status !== 'authorized') {
      return refusal('invalid_payment_state', 409, `Only an authorized payment can be captured; this one is ${payment.status}.`);
    }
    const capturable = payment.amount.minus(payment.capturedAmount);
    amount = command.amount === undefined ? capturable : new Decimal(command.amount);
    if (amount.lessThanOrEqualTo(0) || amount.greaterThan(capturable)) {
      return refusal('amount_out_of_range', 422, `The amount to capture must be between 1 and ${capturable.toString()}.`);
    }
  } else if (command.kind === 'void') {
    if (payment.status !== 'authorized' || payment.capturedAmount.greaterThan(0)) {
      return refusal('invalid_payment_state', 409, `Only an authorized, uncaptured payment can be voided; this one is ${payment.status}.`);
    }
  } else {
    if (payment.status !== 'captured' && payment.status !== 'partially_refunded') {
      return refusal('invalid_payment_state', 409, `Only a captured payment can be refunded; this one is ${payment.status}.`);
    }
    const refundable = payment.capturedAmount.minus(payment.refundedAmount).minus(await inFlightRefundTotal(tx, payment.id));
    amount = command.amount === undefined ? refundable : new Decimal(command.amount);
    if (amount.lessThanOrEqualTo(0) || amount.greaterThan(refundable)) {
      return refusal(
        'amount_out_of_range',
        422,
        `The amount to refund must be between 1 and ${refundable.toString()} (captured, less refunds made or in flight).`,
      );
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

/** 402 `payment_blocked` naming the rule; stored under the Idempotency-Key, so a retry replays the refusal. */
function blocked(rule: RuleRef): PhaseOutcome {
  return {
    response: {
      status: 402,
      body: {
        ...problemBody('payment_blocked', 402, `Risk rule "${rule.name}" blocked the payment; nothing was sent to the PSP.`),
        rule: { id: rule.id, name: rule.name },
      },
    },
  };
}

/**
 * Phase `started` of a review decision: locks the review (two decisions at once: the second waits, then finds it
 * closed, 409 `review_closed`, not stored). Approve closes it. Reject closes it, adds the card fingerprint and customer
 * its rules saw to the built-in block lists, and compensates: a captured payment is
 * refunded (all that is left), an authorized one voided, through the PSP as `POST /v1/payments/{id}/refunds` and
 * `/void` do (the operation is inserted here, called in the next phase); without a usable PSP apiKey it is marked
 * `refund_required` and nothing is sent. Both emit `review.closed`.
 */
async function startReviewDecision(
  deps: Deps,
  tx: Tx,
  merchantId: string,
  command: Extract<PaymentCommand, { kind: 'review' }>,
  pspKey: string,
): Promise<PhaseOutcome> {
  const now = deps.clock();
  const review = await getReview(tx, merchantId, command.reviewId, true);
  if (!review) return refusal('not_found', 404, 'Review was not found.');
  if (review.status !== 'open') return refusal('review_closed', 409, `This review is already ${review.status}; a review is decided once.`);
  const payment = review.paymentId ? await lockPayment(tx, merchantId, review.paymentId) : undefined;
  let compensation: Compensation | null = null;
  let operationId: string | null = null;
  if (command.decision === 'reject') {
    if (!payment || hasPendingReference(payment)) {
      return refusal(
        'invalid_payment_state',
        409,
        'The PSP has not confirmed this payment yet (its creation is being synced); retry later.',
      );
    }
    // so the next attempt with this card or customer is blocked (the built-in rule "Blocked card or customer")
    await addToBlockLists(tx, { merchantId, paymentId: payment.id, reviewId: review.id, now });
    let kind: 'refund' | 'void' | null = null;
    let amount: Decimal | null = null;
    if (payment.status === 'captured' || payment.status === 'partially_refunded') {
      amount = payment.capturedAmount.minus(payment.refundedAmount).minus(await inFlightRefundTotal(tx, payment.id));
      if (amount.greaterThan(0)) kind = 'refund';
    } else if (payment.status === 'authorized' && payment.capturedAmount.isZero()) {
      kind = 'void';
    }
    const creds = kind ? await loadSourceCredentials(tx, deps.secretBox, merchantId, payment.sourceId) : undefined;
    compensation = !kind ? 'none' : creds?.ok ? kind : 'refund_required';
    if (kind && creds?.ok) {
      operationId = newOperationId(now);
      await insertOperation(tx, {
        id: operationId,
        merchantId,
        sourceId: payment.sourceId,
        paymentId: payment.id,
        kind,
        amount,
        currency: payment.currency,
        pspIdempotencyKey: pspKey,
        pspReference: payment.pspReference,
        request: { paymentId: payment.id, reviewId: review.id, ...(amount ? { amount: toJsonAmount(amount) } : {}) },
        now,
      });
    }
  }
  const closed = await closeReview(tx, review, {
    status: command.decision === 'approve' ? 'approved' : 'rejected',
    reason: command.reason ?? null,
    compensation,
    compensationOperationId: operationId,
    now,
  });
  await emitEvent(tx, {
    merchantId,
    type: 'review.closed',
    paymentId: payment?.id ?? null,
    dedupeKey: `${closed.id}:review.closed`,
    data: reviewView(closed),
    at: now,
  });
  if (operationId) return { next: 'operation_created', operationId };
  return { response: { status: 200, body: reviewView(closed) } };
}

function credentialsProblem(error: CredentialsProblem): PhaseOutcome {
  if (error === 'source_not_found') return refusal('source_not_found', 404, 'Source was not found.');
  if (error === 'no_api_key')
    return refusal('psp_not_configured', 422, 'This source has no PSP apiKey; create a source with apiKey to use the payments API.');
  return refusal('psp_not_configured', 422, 'The payments API has connectors for stripe and adyen sources only.');
}

/** Phase `operation_created`: the PSP call, then one transaction applying its answer. */
async function callAndSettle(
  deps: Deps,
  claim: Extract<Claim, { kind: 'run' }>,
  operationId: string,
  options: PaymentCommandOptions,
  command: PaymentCommand,
): Promise<PhaseOutcome> {
  const op = await getOperation(deps.sql, operationId);
  if (!op) throw new Error(`operation ${operationId} of an idempotency key is missing`);
  const result = op.status === 'requested' ? await callPsp(deps, op, options) : undefined;
  if (result) {
    deps.logger.info(
      {
        operationId: op.id,
        kind: op.kind,
        sourceId: op.sourceId,
        result: result.kind,
        ...(result.kind === 'answered' ? { outcome: result.outcome } : {}),
      },
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
    if (command.kind === 'review') {
      // a rejection's answer: the review, with the payment and the compensating operation
      const review = await getReview(tx, op.merchantId, command.reviewId);
      return { response: { status, body: { ...reviewView(review!), payment: commandView(settled.payment, settled.op) } } };
    }
    return { response: { status, body: commandView(settled.payment, settled.op) } };
  });
}

async function currentState(tx: Tx, op: PspOperation): Promise<Settled> {
  const payment = op.paymentId ? await getPayment(tx, op.merchantId, op.paymentId) : undefined;
  if (!payment) return { kind: 'rejected', code: op.failureCode ?? 'failed', message: op.failureMessage ?? 'the operation failed' };
  return { kind: 'settled', payment, op };
}
