/**
 * Metadata key carrying the creating operation's id to the PSP (Stripe `metadata`; Adyen `metadata`, echoed as
 * `additionalData["metadata.<key>"]`), so webhooks link to the payment even before the API call's answer.
 */
export const OPERATION_METADATA_KEY = 'switchyard_op'; // Adyen allows keys of 20 characters at most

/** True when `s` has the shape of a payments API operation id (`pop_` + 32 hex digits). */
export function isOperationId(s: string): boolean {
  return /^pop_[0-9a-f]{32}$/.test(s);
}
