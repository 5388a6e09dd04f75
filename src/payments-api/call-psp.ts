import { Decimal } from 'decimal.js';
import type { Deps } from '../core/deps.js';
import { OPERATION_METADATA_KEY } from '../core/payments/operation-ids.js';
import type { PspOperation } from '../core/payments/operation-store.js';
import type { CreatePaymentInput, PaymentCommandOptions } from './commands.js';
import { loadSourceCredentials } from './connectors/credentials.js';
import { connectorFor, DEFAULT_PSP_TIMEOUT_MS } from './connectors/index.js';
import type { ConnectorOptions, CreatePaymentCall, PspResult } from './connectors/types.js';

/**
 * How the connectors call the PSP: `options.fetch`, else `deps.pspFetch` (the SSRF-guarded
 * fetch of the Node runtime), else the global fetch; `http:` base URLs only with
 * SWITCHYARD_ALLOW_PRIVATE_URLS.
 */
export function connectorOptions(deps: Deps, options: PaymentCommandOptions): ConnectorOptions {
  const f = options.fetch ?? deps.pspFetch;
  return {
    timeoutMs: options.pspTimeoutMs ?? DEFAULT_PSP_TIMEOUT_MS,
    allowHttp: deps.config.SWITCHYARD_ALLOW_PRIVATE_URLS,
    ...(f ? { fetch: f } : {}),
  };
}

/** Sends an operation's call to the PSP: the same call, with the same PSP key, on every re-run. */
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
