/**
 * The metadata key under which the payments API gives the PSP the id of the operation that
 * created a payment (Stripe PaymentIntent `metadata`, Adyen `/payments` `metadata`, which
 * Adyen echoes as `additionalData["metadata.<key>"]`), so that its webhooks can be linked
 * to the payment even before the API call's answer (PaymentReport.operationId).
 */
export const OPERATION_METADATA_KEY = 'switchyard_op'; // Adyen allows keys of 20 characters at most

/** True when `s` has the shape of a payments API operation id (`pop_` + 32 hex digits). */
export function isOperationId(s: string): boolean {
  return /^pop_[0-9a-f]{32}$/.test(s);
}
