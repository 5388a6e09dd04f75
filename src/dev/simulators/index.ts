/**
 * PSP simulators on msw 2 (`switchyard/simulators`): Stripe and Adyen APIs behaving like
 * their sandboxes, honouring `Idempotency-Key`, counting every call, and posting the
 * matching signed webhooks to a Switchyard source's inbound URL. See README "Testing with
 * the simulators". Requires `msw` (2.x) in the consumer's dev dependencies.
 */
export { stripeSimulator, type StripeSimulator, type StripeSimulatorOptions, type SimulatedPaymentIntent } from './stripe.js';
export { adyenSimulator, type AdyenSimulator, type AdyenSimulatorOptions, type SimulatedAdyenPayment } from './adyen.js';
export type { InjectedFailure, SimulatedCall, WebhookOptions, WebhookQueue } from './core.js';
