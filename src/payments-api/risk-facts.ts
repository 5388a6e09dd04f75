// What the risk rules see of a `POST /v1/payments` request (README "Risk rules": attributes at the API stage).
import { Decimal } from 'decimal.js';
import type { PaymentFacts } from '../core/risk/attributes.js';
import type { RiskSubject } from '../core/risk/assess.js';
import type { CreatePaymentInput } from './commands.js';

/**
 * The risk subject of a create request, recorded under its operation id (`pop_…`, the payment does not exist yet).
 * `customer.reference` is `customer.id`; `customer.ip` and `.ipCountry` are `ip` and `ip_country`; `paymentMethod.type`
 * (an Adyen-style object) is `payment_method.type`. The
 * card's fingerprint, country and BIN are known only to the PSP, so they are absent here.
 */
export function apiRiskSubject(merchantId: string, operationId: string, provider: string, input: CreatePaymentInput): RiskSubject {
  const pm = input.paymentMethod;
  const pmType = typeof pm === 'object' && pm !== null && typeof pm.type === 'string' ? pm.type : undefined;
  const facts: PaymentFacts = {
    amount: new Decimal(input.amount),
    currency: input.currency,
    provider,
    ...(pmType !== undefined ? { paymentMethodType: pmType } : {}),
    ...(input.customer?.reference !== undefined ? { customerId: input.customer.reference } : {}),
    ...(input.customer?.email !== undefined ? { customerEmail: input.customer.email } : {}),
    ...(input.customer?.ip !== undefined ? { ip: input.customer.ip.toLowerCase() } : {}),
    ...(input.customer?.ipCountry !== undefined ? { ipCountry: input.customer.ipCountry.toUpperCase() } : {}),
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
  };
  return {
    merchantId,
    subjectId: operationId,
    paymentId: null,
    operationId,
    stage: 'api',
    cause: operationId,
    facts,
  };
}
